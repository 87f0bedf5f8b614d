"""Short-lived stream tokens: HS256 JSON Web Tokens (PyJWT) made from a key.

A browser cannot put a header on a WebSocket or an ``EventSource``, so it trades its key
for a token (``POST /api/v1/auth/token``) and opens ``/ws?token=...`` or
``/sse?token=...``. The token names the key (``sub``); the key's current role and scope
apply, so revoking the key ends its tokens too.
"""

from __future__ import annotations

import time

import jwt

from riskcast.security.keys import Principal

__all__ = ["ISSUER", "TokenError", "issue", "verify"]

ISSUER = "riskcast"
_ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that is not valid; the message says why (never the token)."""


def issue(secret: str, principal: Principal, ttl_s: float, *,
          now: float | None = None) -> tuple[str, float]:
    """A token for ``principal`` valid for ``ttl_s`` seconds, and when it expires (epoch s)."""
    issued = time.time() if now is None else now
    expires = issued + ttl_s
    claims = {"iss": ISSUER, "sub": principal.key_id, "role": principal.role.name,
              "iat": int(issued), "exp": int(expires)}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM), float(int(expires))


def verify(secret: str, token: str) -> tuple[str, float]:
    """The key id a valid token names and its expiry (epoch seconds); :class:`TokenError`
    saying why a token is not valid."""
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired: get a new one from POST /api/v1/auth/token") from None
    except jwt.InvalidTokenError as err:
        raise TokenError(f"invalid token: {err}") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("invalid token: no key named")
    return sub, float(claims["exp"])


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has the shape of a JWT (three dot-separated parts)."""
    return text.count(".") == 2 and not text.startswith("rk_")
