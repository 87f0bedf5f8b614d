"""API keys: roles, scopes, and keys stored only as hashes.

A key reads ``rk_<id>_<secret>``: ``id`` is public (10 characters, shown in listings and
the audit log) and names the stored record; ``secret`` is 32 random bytes. Only the
SHA-256 of the whole key is stored, and a presented key is checked with a constant-time
compare against it. The key itself is shown once, when it is created.

>>> key = new_key()
>>> parse_key_id(key.plaintext) == key.id
True
>>> matches(key.plaintext, key.hash) and not matches(key.plaintext + "x", key.hash)
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from riskcast.exceptions import ValidationError
from riskcast.types import Micros

__all__ = ["ENV_ADMIN_ID", "KeyRecord", "NewKey", "Principal", "Role", "hash_key", "matches",
           "new_key", "parse_key_id"]

PREFIX = "rk_"
_ID_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"  # no l, 0, 1: easy to read aloud
_ID_LENGTH = 10
#: The id of the key set with the ``admin_key`` setting (``RISKCAST_ADMIN_KEY``) when that
#: key is not itself of the ``rk_<id>_<secret>`` form.
ENV_ADMIN_ID = "admin-env"


class Role(IntEnum):
    """What a key may do; each role may do everything the roles below it may.

    - ``viewer`` reads: sites, series, alerts, rules, models, live streams.
    - ``operator`` also ingests, acknowledges alerts, silences them and gives feedback.
    - ``admin`` everything: keys, rules, sites' deletion, deploy and rollback, restore, audit.
    """

    viewer = 1
    operator = 2
    admin = 3

    @classmethod
    def parse(cls, text: str, *, field: str = "role") -> Role:
        try:
            return cls[text.strip().lower()]
        except KeyError:
            raise ValidationError(f"{field}: {text!r} is not a role; use viewer, operator "
                                  "or admin", field=field) from None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key: never the key itself, only its hash."""

    id: str
    hash: str
    name: str
    role: Role
    #: Packs and sites the key is limited to; empty means every one.
    packs: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    created_us: Micros = 0
    revoked_us: Micros | None = None

    @property
    def active(self) -> bool:
        return self.revoked_us is None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: ``plaintext`` is shown once and then forgotten."""

    id: str
    plaintext: str
    hash: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"NewKey(id={self.id!r})"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the key's id, name, role and scope (empty scope: everything)."""

    key_id: str
    name: str
    role: Role
    packs: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    #: ``False`` when the server runs with ``auth = false`` (everyone is admin).
    auth: bool = True

    @classmethod
    def of(cls, record: KeyRecord) -> Principal:
        return cls(record.id, record.name, record.role, frozenset(record.packs),
                   frozenset(record.sites))

    @property
    def scoped(self) -> bool:
        """Whether the key is limited to some packs or sites."""
        return bool(self.packs or self.sites)

    def may_see_site(self, site: str, pack: str | None) -> bool:
        """Whether the key may read or write ``site`` (of ``pack``, when known)."""
        if self.sites and site not in self.sites:
            return False
        return not self.packs or (pack is not None and pack in self.packs)

    def to_json(self) -> dict[str, object]:
        return {"key_id": self.key_id, "name": self.name, "role": self.role.name,
                "packs": sorted(self.packs), "sites": sorted(self.sites), "auth": self.auth}


#: Everyone, when authentication is off.
ANONYMOUS_ADMIN = Principal("-", "anonymous (auth off)", Role.admin, auth=False)


def hash_key(plaintext: str) -> str:
    """The stored form of a key: hex SHA-256 (the key has 256 bits of entropy, so a slow
    password hash would add nothing but cost on every request)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time check of a presented key against a stored hash."""
    return hmac.compare_digest(hash_key(plaintext), stored_hash)


def new_key(key_id: str | None = None) -> NewKey:
    """A fresh random key (with a fresh id unless one is given)."""
    key_id = key_id or "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
    plaintext = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id, plaintext, hash_key(plaintext))


def parse_key_id(plaintext: str) -> str | None:
    """The public id inside a key of the ``rk_<id>_<secret>`` form, else ``None``."""
    if not plaintext.startswith(PREFIX):
        return None
    key_id, sep, secret = plaintext[len(PREFIX):].partition("_")
    if not sep or not key_id or not secret or len(key_id) > 64:
        return None
    return key_id


def clean_names(values: Sequence[str] | str | None, *, field: str) -> tuple[str, ...]:
    """Pack or site names from a list or a comma-separated text, sorted and unique."""
    if values is None:
        return ()
    items = values.split(",") if isinstance(values, str) else list(values)
    names = sorted({v.strip() for v in items if v.strip()})
    for name in names:
        if len(name) > 200 or not name.isprintable():
            raise ValidationError(f"{field}: not a valid name: {name[:40]!r}", field=field)
    return tuple(names)
