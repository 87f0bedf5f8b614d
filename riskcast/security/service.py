"""The security service of one process: its key store, a cache of checked keys, the
token secret, the audit log and the rate limiter. One per runtime
(``runtime.security``).

A presented key is checked against the cache first: a dict lookup, a SHA-256 and a
constant-time compare, with no database round trip. An entry is trusted for
``key_cache_ttl`` (5 s by default) and then read again, so a key revoked by another
process stops working within that time; in the revoking process it stops at once. A key
id the store does not know is remembered as unknown for as long, in a cache of its own.

Live streams outlive a request, so they are watched: :meth:`Security.watch` registers a
stream's close, a revocation here closes the key's streams at once, and a background
task reads the keys of open streams again every ``key_cache_ttl`` to close those revoked
elsewhere. A stream opened with a token also gets one timer (``loop.call_at``) that
closes it when the token expires: no check per message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from riskcast.core.clock import now_us
from riskcast.exceptions import NotFoundError
from riskcast.security import tokens
from riskcast.security.audit import AuditLog
from riskcast.security.keys import (
    ENV_ADMIN_ID,
    KeyRecord,
    NewKey,
    Principal,
    Role,
    clean_names,
    hash_key,
    matches,
    new_key,
    parse_key_id,
)
from riskcast.security.ratelimit import RateLimiter
from riskcast.security.store import KeyStore, open_key_store
from riskcast.settings import Settings

__all__ = ["AuthError", "Security", "bootstrap_admin_key", "create_key"]

log = logging.getLogger(__name__)

_SECRET_SETTING = "token_secret"
_BOOTSTRAP_SETTING = "bootstrap_admin"
_MAX_CACHED = 10_000
#: The reason a stream of a revoked key is closed with (WebSocket code 4401).
REVOKED_REASON = "API key revoked"
#: The reason a stream is closed with when its token expires (WebSocket code 4401).
EXPIRED_REASON = "token expired"


class AuthError(Exception):
    """A credential that does not authenticate; the message says why, never the secret."""


class Security:
    """Authentication, tokens, rate limits and audit for one process."""

    def __init__(self, settings: Settings, store: KeyStore | None = None) -> None:
        self.settings = settings
        self.store = store or open_key_store(settings)
        self.audit = AuditLog(self.store)
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        # per client address: requests without a key (auth on) or all requests (auth off),
        # and failed key or token attempts (the brute-force guard)
        self.anonymous = (RateLimiter(settings.anon_rate_limit, settings.anon_rate_burst)
                          if settings.auth else
                          RateLimiter(settings.rate_limit, settings.rate_burst))
        self.failures = RateLimiter(settings.auth_failures / 60.0,
                                    max(1, settings.auth_failures))
        self.cache_ttl = settings.us("key_cache_ttl") / 1e6
        self.token_ttl = settings.us("token_ttl") / 1e6
        self._secret = settings.secret
        # key id -> (record, its principal, when read); verified tokens -> (key id, expiry)
        self._cache: dict[str, tuple[KeyRecord | None, Principal | None, float]] = {}
        # key ids the store did not know -> when asked: a negative cache of its own, so
        # made-up ids neither reach the store every time nor push real keys out of _cache
        self._unknown: dict[str, float] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._admin_hash = hash_key(settings.admin_key) if settings.admin_key else ""
        # key id -> close callbacks of its open live streams
        self._streams: dict[str, set[Callable[[str], None]]] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the store, agree on the token secret, install the settings' admin key."""
        await self.store.open()
        if not self._secret:
            self._secret = await self.store.setting(_SECRET_SETTING, secrets.token_urlsafe(48))
        if self.settings.admin_key:
            await self._install_admin_key(self.settings.admin_key)
        self.audit.start()
        if self.settings.auth:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch_streams(), name="stream-keys")

    async def aclose(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await self.audit.aclose()
        await self.store.aclose()

    async def _install_admin_key(self, plaintext: str) -> None:
        key_id = parse_key_id(plaintext) or ENV_ADMIN_ID
        current = await self.store.get_key(key_id)
        record = KeyRecord(key_id, hash_key(plaintext), "admin (admin_key setting)",
                           Role.admin, created_us=current.created_us if current else now_us())
        if current != record:
            await self.store.put_key(record)
        self._cache.pop(key_id, None)
        self._unknown.pop(key_id, None)

    # -- checking credentials -----------------------------------------------------------

    async def authenticate(self, credential: str) -> Principal:
        """The principal of a key or a token; :class:`AuthError` saying why not."""
        if tokens.looks_like_token(credential):
            record, principal = await self._lookup(self._token_key(credential))
            if record is None or principal is None or not record.active:
                raise AuthError("invalid token: its key was revoked")
            return principal
        parsed = parse_key_id(credential)
        if parsed is None and not self._admin_hash:
            raise AuthError("not an API key: keys look like rk_<id>_<secret>")
        record, principal = await self._lookup(parsed or ENV_ADMIN_ID)
        if record is None or principal is None or not matches(credential, record.hash):
            raise AuthError("unknown API key")
        if not record.active:
            raise AuthError("this API key was revoked")
        return principal

    def _token_key(self, token: str) -> str:
        """The key id of a valid token; a verified token is remembered until it expires."""
        known = self._tokens.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        try:
            key_id, expires = tokens.verify(self._secret, token)
        except tokens.TokenError as err:
            raise AuthError(str(err)) from None
        if len(self._tokens) >= _MAX_CACHED:
            self._tokens.clear()
        self._tokens[token] = (key_id, expires)
        return key_id

    async def _lookup(self, key_id: str) -> tuple[KeyRecord | None, Principal | None]:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[2] < self.cache_ttl:
            return cached[0], cached[1]
        asked = self._unknown.get(key_id)
        if asked is not None and now - asked < self.cache_ttl:
            return None, None
        record = await self.store.get_key(key_id)
        if record is None:
            if len(self._unknown) >= _MAX_CACHED:
                self._unknown.clear()
            self._unknown[key_id] = now
            self._cache.pop(key_id, None)
            return None, None
        self._unknown.pop(key_id, None)
        principal = Principal.of(record)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key_id] = (record, principal, now)
        return record, principal

    def token_expiry(self, credential: str) -> float | None:
        """When a token that authenticated here expires (epoch seconds); ``None`` for a key."""
        known = self._tokens.get(credential)
        return known[1] if known is not None else None

    def issue_token(self, principal: Principal) -> tuple[str, float]:
        """A stream token for ``principal`` and its expiry (epoch seconds)."""
        return tokens.issue(self._secret, principal, self.token_ttl)

    # -- managing keys --------------------------------------------------------------------

    async def create_key(self, *, name: str, role: Role, packs: tuple[str, ...] = (),
                         sites: tuple[str, ...] = ()) -> tuple[NewKey, KeyRecord]:
        """A new key: its plaintext (show it once) and the stored record."""
        key, record = await create_key(self.store, name=name, role=role, packs=packs,
                                       sites=sites)
        self._unknown.pop(key.id, None)
        return key, record

    async def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke a key; it stops working in this process at once. NotFoundError if absent."""
        record = await self.store.get_key(key_id)
        if record is None:
            raise NotFoundError(f"no key {key_id!r}")
        if record.active:
            await self.store.revoke_key(key_id, now_us())
            record = await self.store.get_key(key_id) or record
        self._cache[key_id] = (record, Principal.of(record), time.monotonic())
        if not record.active:
            self._close_streams(key_id)
        return record

    # -- live streams -----------------------------------------------------------------------

    def watch(self, key_id: str, close: Callable[[str], None], *,
              expires: float | None = None) -> Callable[[], None]:
        """Call ``close(reason)`` when the key is revoked, or once ``expires`` (epoch
        seconds: the stream's token expiry) has passed; returns the call that stops
        watching (when the stream ends)."""
        callbacks = self._streams.setdefault(key_id, set())
        callbacks.add(close)
        timer: asyncio.TimerHandle | None = None
        if expires is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_at(loop.time() + max(0.0, expires - time.time()),
                                 self._expire, key_id, close)

        def unwatch() -> None:
            if timer is not None:
                timer.cancel()
            callbacks.discard(close)
            if not callbacks and self._streams.get(key_id) is callbacks:
                del self._streams[key_id]

        return unwatch

    def _expire(self, key_id: str, close: Callable[[str], None]) -> None:
        callbacks = self._streams.get(key_id)
        if callbacks is None or close not in callbacks:
            return
        callbacks.discard(close)
        if not callbacks:
            del self._streams[key_id]
        try:
            close(EXPIRED_REASON)
        except Exception:
            log.exception("closing a stream whose token expired failed")

    def _close_streams(self, key_id: str) -> None:
        for close in list(self._streams.pop(key_id, ())):
            try:
                close(REVOKED_REASON)
            except Exception:  # one stream's failure must not keep the others open
                log.exception("closing a stream of a revoked key failed")

    async def _watch_streams(self) -> None:
        """Every ``key_cache_ttl``, read the keys of open streams; close the revoked."""
        interval = max(self.cache_ttl, 0.5)
        while True:
            await asyncio.sleep(interval)
            for key_id in list(self._streams):
                try:
                    record = await self.store.get_key(key_id)
                except Exception as err:  # the store is down: keep the streams, retry later
                    log.warning("stream keys: cannot read key %s: %s", key_id, err)
                    continue
                principal = Principal.of(record) if record is not None else None
                self._cache[key_id] = (record, principal, time.monotonic())
                if record is None or not record.active:
                    self._close_streams(key_id)


async def create_key(store: KeyStore, *, name: str, role: Role, packs: tuple[str, ...] = (),
                     sites: tuple[str, ...] = ()) -> tuple[NewKey, KeyRecord]:
    """Make and store a new key; the plaintext is returned once and stored nowhere."""
    key = new_key()
    record = KeyRecord(key.id, key.hash, name.strip() or f"{role.name} key", role,
                       clean_names(packs, field="packs"), clean_names(sites, field="sites"),
                       created_us=now_us())
    await store.put_key(record)
    return key, record


async def bootstrap_admin_key(store: KeyStore) -> NewKey | None:
    """On the first start with an empty key store, one admin key to print once.

    Returns ``None`` when the store holds keys already or another process won the race
    (the first writer of a marker in the store makes the key).
    """
    if await store.list_keys():
        return None
    candidate = new_key()
    if await store.setting(_BOOTSTRAP_SETTING, candidate.id) != candidate.id:
        return None
    await store.put_key(KeyRecord(candidate.id, candidate.hash, "first admin key", Role.admin,
                                  created_us=now_us()))
    return candidate
