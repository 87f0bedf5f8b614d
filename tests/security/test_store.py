"""The key store contract, one suite over every backend (memory, sqlite, postgres)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from riskcast.security.keys import KeyRecord, Role, new_key
from riskcast.security.memory import MemoryKeyStore
from riskcast.security.service import Security, bootstrap_admin_key, create_key
from riskcast.security.sqlite import SqliteKeyStore
from riskcast.security.store import AuditQuery, AuditRecord, KeyStore, open_key_store
from riskcast.settings import Settings
from tests.conftest import require_service

pytestmark = pytest.mark.anyio
PG_URL = os.environ.get("RISKCAST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema of its own in the real PostgreSQL, dropped afterwards."""
    parts = urlsplit(PG_URL)
    require_service("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    import psycopg

    name = f"rc_keys_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(name)))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], KeyStore]:
    """A factory of stores sharing one place (the same file, the same schema)."""
    if request.param == "memory":
        shared = MemoryKeyStore()
        return lambda: shared
    if request.param == "sqlite":
        return lambda: SqliteKeyStore(tmp_path / "auth.db")
    schema = request.getfixturevalue("pg_schema")
    from riskcast.security.postgres import PostgresKeyStore

    return lambda: PostgresKeyStore(PG_URL, schema=schema)


@pytest.fixture
async def store(make_store: Callable[[], KeyStore]) -> AsyncIterator[KeyStore]:
    s = make_store()
    await s.open()
    yield s
    await s.aclose()


def _record(key_id: str = "abc", **extra: object) -> KeyRecord:
    fields: dict[str, object] = {"id": key_id, "hash": "h" * 64, "name": "n",
                                 "role": Role.operator, "packs": ("water",),
                                 "sites": ("s1", "s2"), "created_us": 1}
    return KeyRecord(**{**fields, **extra})  # type: ignore[arg-type]


async def test_put_get_list_round_trip(store: KeyStore) -> None:
    assert await store.get_key("abc") is None
    await store.put_key(_record())
    await store.put_key(_record("def", created_us=2, role=Role.admin, packs=(), sites=()))
    assert await store.get_key("abc") == _record()
    assert [r.id for r in await store.list_keys()] == ["abc", "def"]
    await store.put_key(_record(name="renamed"))
    got = await store.get_key("abc")
    assert got is not None and got.name == "renamed"


async def test_revoke_once(store: KeyStore) -> None:
    await store.put_key(_record())
    assert await store.revoke_key("abc", 42) is True
    assert await store.revoke_key("abc", 43) is False
    assert await store.revoke_key("nope", 43) is False
    got = await store.get_key("abc")
    assert got is not None and got.revoked_us == 42 and not got.active


async def test_setting_first_writer_wins(store: KeyStore) -> None:
    assert await store.setting("token_secret", "one") == "one"
    assert await store.setting("token_secret", "two") == "one"


async def test_audit_appends_and_filters_newest_first(store: KeyStore) -> None:
    records = [AuditRecord(10, "k1", "alice", "alert.ack", "7"),
               AuditRecord(20, "k2", "bob", "rule.create", "r1", detail={"status": 201}),
               AuditRecord(30, "k1", "alice", "alert.feedback", "7", result="error 404")]
    await store.append_audit(records)
    everything = await store.audit(AuditQuery())
    assert [r.action for r in everything] == ["alert.feedback", "rule.create", "alert.ack"]
    assert everything[1].detail == {"status": 201} and everything[0].result == "error 404"
    assert [r.target for r in await store.audit(AuditQuery(actor="k2"))] == ["r1"]
    assert len(await store.audit(AuditQuery(action="alert."))) == 2
    assert len(await store.audit(AuditQuery(action="alert.ack"))) == 1
    assert [r.time_us for r in await store.audit(AuditQuery(since_us=20))] == [30, 20]
    page = await store.audit(AuditQuery(limit=2))
    rest = await store.audit(AuditQuery(limit=2, before=page[-1].id))
    assert [r.action for r in rest] == ["alert.ack"]


async def test_two_stores_share_keys_secret_and_audit(make_store: Callable[[], KeyStore]
                                                      ) -> None:
    a, b = make_store(), make_store()
    await a.open()
    await b.open()
    try:
        key, _ = await create_key(a, name="shared", role=Role.viewer, sites=("s9",))
        seen = await b.get_key(key.id)
        assert seen is not None and seen.sites == ("s9",)
        assert await a.setting("token_secret", "from-a") == await b.setting("token_secret",
                                                                            "from-b")
        await a.revoke_key(key.id, 5)
        seen = await b.get_key(key.id)
        assert seen is not None and seen.revoked_us == 5
        await a.append_audit([AuditRecord(1, "x", "x", "key.create", key.id)])
        assert [r.target for r in await b.audit(AuditQuery())] == [key.id]
    finally:
        await a.aclose()
        await b.aclose()


async def test_bootstrap_makes_one_admin_key_only_on_an_empty_store(
        make_store: Callable[[], KeyStore]) -> None:
    a, b = make_store(), make_store()
    await a.open()
    await b.open()
    try:
        first = await bootstrap_admin_key(a)
        assert first is not None
        assert await bootstrap_admin_key(b) is None
        stored = await b.get_key(first.id)
        assert stored is not None and stored.role is Role.admin
    finally:
        await a.aclose()
        await b.aclose()


async def test_sqlite_audit_log_refuses_updates_and_deletes(tmp_path: Path) -> None:
    store = SqliteKeyStore(tmp_path / "auth.db")
    await store.open()
    await store.append_audit([AuditRecord(1, "k", "n", "alert.ack")])
    await store.aclose()
    conn = sqlite3.connect(tmp_path / "auth.db")
    for statement in ("UPDATE audit_log SET result = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()


async def test_postgres_audit_log_refuses_updates(pg_schema: str) -> None:
    import psycopg

    from riskcast.security.postgres import PostgresKeyStore

    store = PostgresKeyStore(PG_URL, schema=pg_schema)
    await store.open()
    await store.append_audit([AuditRecord(1, "k", "n", "alert.ack")])
    await store.aclose()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(psycopg.sql.SQL("DELETE FROM {}.audit_log").format(
                psycopg.sql.Identifier(pg_schema)))


async def test_plaintext_never_reaches_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=True)
    security = Security(settings)
    await security.start()
    key, _ = await security.create_key(name="k", role=Role.admin)
    principal = await security.authenticate(key.plaintext)
    assert principal.key_id == key.id
    await security.aclose()
    blob = _files(tmp_path, "auth.db*")
    assert key.plaintext.encode() not in blob
    assert key.plaintext.split("_", 2)[2].encode() not in blob


async def test_processes_on_one_postgres_share_keys_and_token_secret(pg_schema: str) -> None:
    from riskcast.security.postgres import PostgresKeyStore

    settings = Settings(storage=PG_URL, auth=True)
    one = Security(settings, PostgresKeyStore(PG_URL, schema=pg_schema))
    two = Security(settings, PostgresKeyStore(PG_URL, schema=pg_schema))
    await one.start()
    await two.start()
    try:
        key, _ = await one.create_key(name="k", role=Role.viewer)
        assert (await two.authenticate(key.plaintext)).key_id == key.id
        token, _ = one.issue_token(await one.authenticate(key.plaintext))
        assert (await two.authenticate(token)).key_id == key.id
    finally:
        await one.aclose()
        await two.aclose()


def _files(folder: Path, pattern: str) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob(pattern))


def test_open_key_store_follows_the_storage_setting(tmp_path: Path) -> None:
    assert isinstance(open_key_store(Settings(storage="memory")), MemoryKeyStore)
    sqlite_store = open_key_store(Settings(data_dir=tmp_path))
    assert isinstance(sqlite_store, SqliteKeyStore)
    assert sqlite_store.path == tmp_path / "auth.db"
    from riskcast.security.postgres import PostgresKeyStore

    assert isinstance(open_key_store(Settings(storage=PG_URL)), PostgresKeyStore)


def test_new_key_repr_hides_the_key() -> None:
    key = new_key()
    assert key.plaintext not in repr(key)
