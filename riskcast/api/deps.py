"""Access to the running platform from a request: everything hangs off ``app.state``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from riskcast.api.runtime import Runtime


def runtime(conn: HTTPConnection) -> Runtime:
    """The :class:`Runtime` of the app serving this request."""
    rt: Runtime = conn.app.state.runtime
    return rt
