"""Authentication and authorization: API keys with roles and scopes, stream tokens, the
route-to-role table, rate limits, security headers and the audit log (docs/security.md).

- ``keys.py``: roles, key records, principals, keys stored as hashes
- ``store.py``: the key store contract; ``memory.py``, ``sqlite.py``, ``postgres.py``
- ``policy.py``: which role each endpoint needs; ``scopes.py``: what a key limited to
  some sites sees of alerts, silences and the ``alerts`` channel
- ``middleware.py``: the guard in front of every route; ``headers.py``: security headers
- ``service.py``: one process's key cache, tokens, limiter and audit log
- ``tokens.py``, ``ratelimit.py``, ``audit.py``
"""

from riskcast.security.audit import record, record_action
from riskcast.security.keys import KeyRecord, Principal, Role
from riskcast.security.store import AuditQuery, AuditRecord, KeyStore, open_key_store

__all__ = ["AuditQuery", "AuditRecord", "KeyRecord", "KeyStore", "Principal", "Role",
           "open_key_store", "record", "record_action"]
