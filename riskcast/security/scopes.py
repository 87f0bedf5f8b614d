"""What a key limited to some packs or sites sees of the endpoints that span every site.

Alerts and silences answer such a key with what concerns its sites instead of 403:
``GET /api/v1/alerts`` lists the alerts of its sites, an alert of another site is 404 to
it, and it acknowledges and gives feedback on its sites' alerts only; it sees the
silences whose ``sites`` are all its own, and creates or changes only such silences. On
the ``alerts`` live channel it gets the events of its sites' alerts (the adapters drop the
others with :func:`event_filters`, so unscoped subscribers still share one encoding).

Rules, models, the system counters and the ``system`` and ``models`` channels stay
refused (403): they hold every site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from riskcast.security.keys import Principal

if TYPE_CHECKING:
    from riskcast.core.events import Event
    from riskcast.core.sites import Site

__all__ = ["FILTERED_CHANNELS", "SiteCheck", "event_filters", "site_check", "sites_check"]

#: Sees one site id.
SiteCheck = Callable[[str], bool]
#: Channels that span every site but are filtered for a scoped key rather than refused.
FILTERED_CHANNELS = frozenset({"alerts"})


def sites_check(principal: Principal, sites: Mapping[str, Site]) -> SiteCheck | None:
    """Which sites ``principal`` may see; ``None`` when it sees every site."""
    if not principal.scoped:
        return None

    def sees(site_id: str) -> bool:
        site = sites.get(site_id)
        return principal.may_see_site(site_id, site.pack if site else None)

    return sees


def site_check(request: Any) -> SiteCheck | None:
    """:func:`sites_check` for the key of a request (``None``: every site, auth off too)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return None
    return sites_check(principal, request.app.state.runtime.pipeline.sites)


def event_filters(principal: Principal, sites: Mapping[str, Site]
                  ) -> dict[str, Callable[[Event], bool]]:
    """Per channel, which events a scoped key's stream keeps (``{}``: all of them)."""
    sees = sites_check(principal, sites)
    if sees is None:
        return {}

    def keep(event: Event) -> bool:
        data = event.data
        site = data.get("site") if isinstance(data, dict) else None
        return isinstance(site, str) and sees(site)

    return dict.fromkeys(FILTERED_CHANNELS, keep)
