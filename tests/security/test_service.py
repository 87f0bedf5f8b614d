"""One process's security service: the key cache, revocation, the settings' admin key."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.security.keys import ENV_ADMIN_ID, KeyRecord, Role, new_key
from riskcast.security.memory import MemoryKeyStore
from riskcast.security.service import AuthError, Security
from riskcast.settings import Settings

pytestmark = pytest.mark.anyio


class CountingStore(MemoryKeyStore):
    """A memory store that counts its key reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.ids: list[str] = []

    async def get_key(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        self.ids.append(key_id)
        return await super().get_key(key_id)


async def test_a_checked_key_is_served_from_the_cache(tmp_path: Path) -> None:
    store = CountingStore()
    security = Security(Settings(data_dir=tmp_path, auth=True), store)
    await security.start()
    key, _ = await security.create_key(name="k", role=Role.operator)
    for _ in range(1000):
        await security.authenticate(key.plaintext)
    assert store.reads == 1
    await security.aclose()


async def test_revocation_applies_at_once_here_and_after_the_cache_ttl_elsewhere(
        tmp_path: Path) -> None:
    shared = MemoryKeyStore()
    here = Security(Settings(data_dir=tmp_path, auth=True), shared)
    cached = Security(Settings(data_dir=tmp_path, auth=True, key_cache_ttl="1h"), shared)
    uncached = Security(Settings(data_dir=tmp_path, auth=True, key_cache_ttl="0s"), shared)
    for s in (here, cached, uncached):
        await s.start()
    key, _ = await here.create_key(name="k", role=Role.viewer)
    for s in (here, cached, uncached):
        await s.authenticate(key.plaintext)
    await here.revoke_key(key.id)
    with pytest.raises(AuthError, match="revoked"):
        await here.authenticate(key.plaintext)
    with pytest.raises(AuthError, match="revoked"):
        await uncached.authenticate(key.plaintext)
    # another process trusts its cache until key_cache_ttl has passed
    assert (await cached.authenticate(key.plaintext)).key_id == key.id


async def test_admin_key_setting_of_any_form_is_an_admin(tmp_path: Path) -> None:
    plain = "correct-horse-battery-staple"
    security = Security(Settings(data_dir=tmp_path, auth=True, admin_key=plain),
                        MemoryKeyStore())
    await security.start()
    principal = await security.authenticate(plain)
    assert principal.role is Role.admin and principal.key_id == ENV_ADMIN_ID
    with pytest.raises(AuthError):
        await security.authenticate("correct-horse-battery-stapler")


async def test_admin_key_setting_in_key_form_keeps_its_id(tmp_path: Path) -> None:
    key = new_key("demo")
    store = MemoryKeyStore()
    security = Security(Settings(data_dir=tmp_path, auth=True, admin_key=key.plaintext),
                        store)
    await security.start()
    assert (await security.authenticate(key.plaintext)).key_id == "demo"
    stored = await store.get_key("demo")
    assert stored is not None and stored.hash != key.plaintext


async def test_non_key_text_is_refused_without_an_admin_key_setting(tmp_path: Path) -> None:
    security = Security(Settings(data_dir=tmp_path, auth=True), MemoryKeyStore())
    await security.start()
    with pytest.raises(AuthError, match="rk_"):
        await security.authenticate("hunter2")


def test_short_admin_key_or_secret_is_a_config_error() -> None:
    from riskcast.exceptions import ConfigError

    with pytest.raises(ConfigError, match="admin_key"):
        Settings(admin_key="short")
    with pytest.raises(ConfigError, match="secret"):
        Settings(secret="short")


def test_settings_repr_hides_keys_and_secrets() -> None:
    text = repr(Settings(admin_key="a" * 20 + "SECRETKEY", secret="b" * 40 + "SIGNING"))
    assert "SECRETKEY" not in text and "SIGNING" not in text and "***" in text


async def test_an_unknown_key_id_reaches_the_store_once_per_cache_ttl(tmp_path: Path) -> None:
    store = CountingStore()
    security = Security(Settings(data_dir=tmp_path, auth=True), store)
    await security.start()
    for _ in range(1000):
        with pytest.raises(AuthError, match="unknown"):
            await security.authenticate("rk_nosuchid_guess")
    assert store.ids.count("nosuchid") == 1
    await security.aclose()


async def test_made_up_key_ids_do_not_push_real_keys_out_of_the_cache(tmp_path: Path) -> None:
    store = CountingStore()
    security = Security(Settings(data_dir=tmp_path, auth=True), store)
    await security.start()
    key, _ = await security.create_key(name="k", role=Role.viewer)
    await security.authenticate(key.plaintext)
    for i in range(12_000):  # more than either cache holds
        with pytest.raises(AuthError):
            await security.authenticate(f"rk_made{i}_up")
    await security.authenticate(key.plaintext)
    assert store.ids.count(key.id) == 1
    await security.aclose()


async def test_a_key_made_here_works_at_once_after_its_id_was_asked_for(
        tmp_path: Path) -> None:
    security = Security(Settings(data_dir=tmp_path, auth=True, key_cache_ttl="1h"),
                        MemoryKeyStore())
    await security.start()
    key = new_key("admin-env")  # the id the admin_key setting's key takes
    with pytest.raises(AuthError):
        await security.authenticate(key.plaintext)
    await security._install_admin_key(key.plaintext)
    assert (await security.authenticate(key.plaintext)).role is Role.admin
    await security.aclose()
