"""The webhook notifier: POST the message as JSON, signed.

Headers:

- ``X-Riskcast-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body with the route's
  secret (only when the route has one); receivers compare it in constant time;
- ``Idempotency-Key``: the message key, the same on every attempt and after a restart;
- ``X-Riskcast-Attempt``: 1 for the first try, 2 for the second, ...

2xx is delivered. 408, 425, 429 and 5xx (and network errors) are worth another attempt
(``Retry-After`` is honoured); any other status is final: the message goes to the dead
letters at once.
"""

from __future__ import annotations

import hashlib
import hmac
from email.utils import parsedate_to_datetime

import httpx

from riskcast.alerts.notifiers.base import DeliveryError, Message, Notifier
from riskcast.alerts.routes import Route, WebhookRoute
from riskcast.core.clock import parse_duration

__all__ = ["WebhookNotifier", "sign"]

_RETRY_STATUSES = {408, 425, 429}


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body`` (same as
    ``printf '{"a":1}' | openssl dgst -sha256 -hmac s3cret``).

    >>> sign("s3cret", b'{"a":1}')
    'sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


class WebhookNotifier(Notifier):
    """Posts with one shared ``httpx.AsyncClient`` (given, or made at :meth:`start`)."""

    type = "webhook"

    def __init__(self, client: httpx.AsyncClient | None = None, *,
                 user_agent: str = "riskcast-alerts") -> None:
        self._client = client
        self._own = client is None
        self.user_agent = user_agent

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)

    async def aclose(self) -> None:
        if self._own and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, route: Route, message: Message, *, attempt: int) -> None:
        assert isinstance(route, WebhookRoute)
        if self._client is None:
            await self.start()
        assert self._client is not None
        body = message.body()
        headers = {**route.headers, "Content-Type": "application/json",
                   "User-Agent": self.user_agent, "Idempotency-Key": message.key,
                   "X-Riskcast-Attempt": str(attempt)}
        secret = route.resolved_secret()
        if secret:
            headers["X-Riskcast-Signature"] = sign(secret, body)
        timeout = parse_duration(route.timeout) / 1e6
        try:
            response = await self._client.post(route.url, content=body, headers=headers,
                                               timeout=timeout)
        except httpx.HTTPError as err:
            raise DeliveryError(f"{type(err).__name__}: {err}") from err
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRY_STATUSES
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retryable=retryable,
                            retry_after=_retry_after(response.headers.get("retry-after")))
