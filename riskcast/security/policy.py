"""Which role each endpoint needs: the one table to read (and to extend with a route).

Each rule is ``(methods, path, role, action, scope)``; the first rule whose method and
path match decides. ``{name}`` matches one path segment, ``{name:path}`` the rest of the
path.

- ``role``: :data:`PUBLIC` needs no key; otherwise the least role that may call it
  (viewer < operator < admin).
- ``action``: when set, every call by a key is written to the audit log under this name,
  with the first path parameter as its target and the answer's status as its result.
- ``scope``, for keys limited to some packs or sites:
  ``site`` checks the ``{site}`` path parameter against the key's scope;
  ``any`` serves the endpoint (it holds nothing of a particular site, or the route
  limits what it answers itself); ``all`` (the default) refuses with 403, because the
  endpoint spans every site.

A path under ``/api/v1`` that no rule names needs ``viewer`` to read (GET) and
``admin`` for anything else, audited: a new route is safe before it is listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from riskcast.security.keys import Role

__all__ = ["POLICY", "PUBLIC", "Policy", "Rule"]

#: No key needed.
PUBLIC = None
Scope = Literal["site", "any", "all"]
_READ = frozenset({"GET", "HEAD"})
_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANY = _READ | _WRITE | {"OPTIONS"}

V, OP, A = Role.viewer, Role.operator, Role.admin
# (methods, path, role, audit action, scope for scoped keys)
_TABLE: list[tuple[str, str, Role | None, str | None, Scope]] = [
    # open to everyone
    ("*", "/health/{rest:path}", PUBLIC, None, "any"),
    ("GET", "/", PUBLIC, None, "any"),
    ("GET", "/static/{rest:path}", PUBLIC, None, "any"),
    ("GET", "/docs", PUBLIC, None, "any"),
    ("GET", "/docs/{rest:path}", PUBLIC, None, "any"),
    ("GET", "/redoc", PUBLIC, None, "any"),
    ("GET", "/openapi.json", PUBLIC, None, "any"),
    ("GET", "/favicon.ico", PUBLIC, None, "any"),
    # /metrics: public unless metrics_public = false (then viewer); see Policy.match
    ("GET", "/metrics", PUBLIC, None, "all"),
    # who am I, and stream tokens
    ("GET", "/api/v1/auth/me", V, None, "any"),
    ("POST", "/api/v1/auth/token", V, None, "any"),
    # keys and the audit log (the key routes record their own audit entries)
    ("GET", "/api/v1/keys", A, None, "all"),
    ("POST", "/api/v1/keys", A, None, "all"),
    ("DELETE", "/api/v1/keys/{key}", A, None, "all"),
    ("GET", "/api/v1/audit", A, None, "all"),
    # ingest: a scoped key's readings of other sites are refused item by item
    ("POST", "/api/v1/readings", OP, None, "any"),
    # sites and their series
    ("GET", "/api/v1/sites", V, None, "any"),  # the list is filtered to the key's scope
    ("POST", "/api/v1/sites", OP, "site.put", "all"),
    ("GET", "/api/v1/sites/{site}", V, None, "site"),
    ("DELETE", "/api/v1/sites/{site}", A, "site.delete", "all"),
    ("GET", "/api/v1/sites/{site}/{rest:path}", V, None, "site"),
    # catalog
    ("GET", "/api/v1/variables", V, None, "any"),
    ("GET", "/api/v1/packs", V, None, "any"),
    ("GET", "/api/v1/sensors", V, None, "all"),
    ("GET", "/api/v1/system", V, None, "all"),
    # alerts: operators acknowledge, give feedback and silence; a scoped key gets the
    # alerts and silences of its sites (the routes filter: riskcast/security/scopes.py)
    ("GET", "/api/v1/alerts", V, None, "any"),
    ("GET", "/api/v1/alerts/{alert:path}", V, None, "any"),
    ("POST", "/api/v1/alerts/{alert}/ack", OP, "alert.ack", "any"),
    ("POST", "/api/v1/alerts/{alert}/feedback", OP, "alert.feedback", "any"),
    ("GET", "/api/v1/silences", V, None, "any"),
    ("GET", "/api/v1/silences/{silence}", V, None, "any"),
    ("POST", "/api/v1/silences", OP, "silence.create", "any"),
    ("PUT", "/api/v1/silences/{silence}", OP, "silence.change", "any"),
    ("DELETE", "/api/v1/silences/{silence}", OP, "silence.expire", "any"),
    ("GET", "/api/v1/notifications/{rest:path}", A, None, "all"),
    ("POST", "/api/v1/notifications/dead/{message}/retry", A, "notification.retry", "all"),
    ("POST", "/api/v1/feedback", OP, "feedback", "all"),
    ("POST", "/api/v1/feedback/{rest:path}", OP, "feedback", "all"),
    # rules: admin changes them
    ("GET", "/api/v1/rules", V, None, "all"),
    ("GET", "/api/v1/rules/{rule:path}", V, None, "all"),
    ("POST", "/api/v1/rules", A, "rule.create", "all"),
    ("PUT", "/api/v1/rules/{rule}", A, "rule.replace", "all"),
    ("DELETE", "/api/v1/rules/{rule}", A, "rule.delete", "all"),
    # models: viewers predict, operators report outcomes, admins train and deploy
    ("GET", "/api/v1/models", V, None, "all"),
    ("GET", "/api/v1/models/{rest:path}", V, None, "all"),
    ("POST", "/api/v1/models/{model}/predict", V, None, "all"),
    ("POST", "/api/v1/models/{model}/predict/batch", V, None, "all"),
    ("POST", "/api/v1/models/{model}/online/predict", V, None, "all"),
    ("POST", "/api/v1/models/{model}/drift", V, None, "all"),
    ("POST", "/api/v1/models/{model}/outcomes", OP, "model.outcomes", "all"),
    ("POST", "/api/v1/models/{model}/feedback", OP, "model.feedback", "all"),
    ("POST", "/api/v1/models/{model}/online/learn", OP, "model.learn", "all"),
    ("POST", "/api/v1/models/{model}/train", A, "model.train", "all"),
    ("POST", "/api/v1/models/{model}/ensemble", A, "model.ensemble", "all"),
    ("POST", "/api/v1/models/{model}/deploy", A, "model.deploy", "all"),
    ("POST", "/api/v1/models/{model}/rollback", A, "model.rollback", "all"),
    # operations
    ("*", "/api/v1/backup{rest:path}", A, "backup", "all"),
    ("*", "/api/v1/restore{rest:path}", A, "restore", "all"),
    # live streams: the hub refuses channels outside a scoped key's scope
    ("GET", "/ws", V, None, "any"),
    ("GET", "/sse", V, None, "any"),
]


@dataclass(frozen=True, slots=True)
class Rule:
    """What one endpoint needs; see the module docstring."""

    methods: frozenset[str]
    path: str
    role: Role | None
    action: str | None
    scope: Scope
    regex: re.Pattern[str]


def _compile(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)(:path)?\}", path):
        out.append(re.escape(path[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.*)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out) + r"\Z")


_DEFAULT_READ = Rule(_READ, "(unlisted)", Role.viewer, None, "all", re.compile(""))
_DEFAULT_WRITE = Rule(_WRITE | {"OPTIONS"}, "(unlisted)", Role.admin, None, "all",
                      re.compile(""))


class Policy:
    """The table compiled; :meth:`match` finds the rule of a request."""

    def __init__(self, table: list[tuple[str, str, Role | None, str | None, Scope]], *,
                 metrics_public: bool = True) -> None:
        self.rules: list[Rule] = []
        for methods, path, role, action, scope in table:
            if path == "/metrics" and not metrics_public:
                role = Role.viewer
            wanted = _ANY if methods == "*" else frozenset(methods.split(","))
            if "GET" in wanted:
                wanted |= {"HEAD"}
            self.rules.append(Rule(wanted, path, role, action, scope, _compile(path)))
        self._exact = {(m, r.path): r for r in reversed(self.rules) if "{" not in r.path
                       for m in r.methods}

    def match(self, method: str, path: str) -> tuple[Rule, dict[str, str]]:
        """The rule for a request and its path parameters."""
        exact = self._exact.get((method, path))
        if exact is not None:
            return exact, {}
        for rule in self.rules:
            if method in rule.methods:
                found = rule.regex.match(path)
                if found is not None:
                    return rule, found.groupdict()
        if method in _READ:
            return _DEFAULT_READ, {}
        default = _DEFAULT_WRITE
        return Rule(default.methods, default.path, default.role, f"{method} {path}",
                    "all", default.regex), {}


def default_policy(*, metrics_public: bool = True) -> Policy:
    return Policy(_TABLE, metrics_public=metrics_public)


#: The table with the default settings, for documentation and tests.
POLICY = default_policy()
