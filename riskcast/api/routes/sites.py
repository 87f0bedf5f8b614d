"""Sites: create, list, show, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from riskcast.api.deps import runtime
from riskcast.core.sites import Site
from riskcast.exceptions import NotFoundError

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


class SiteBody(BaseModel):
    """A monitored place."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["s1"])
    name: str = Field("", max_length=200)
    pack: str = Field("generic", examples=["generic", "wildfire"])
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    tags: dict[str, str] = Field(default_factory=dict)


class SitePage(BaseModel):
    sites: list[SiteBody]
    next_cursor: str | None = None


def _out(site: Site) -> SiteBody:
    return SiteBody(id=site.id, name=site.name, pack=site.pack, lat=site.lat, lon=site.lon,
                    tags=site.tags)


@router.post("", status_code=201, response_model=SiteBody,
             summary="Create or replace a site",
             responses={200: {"model": SiteBody, "description": "replaced"}})
async def put_site(body: SiteBody, request: Request, response: Response) -> SiteBody:
    site = Site(**body.model_dump())
    created = await runtime(request).pipeline.put_site(site)
    if not created:
        response.status_code = 200
    return _out(site)


@router.get("", response_model=SitePage, summary="List sites, paged by id")
async def list_sites(
    request: Request,
    pack: Annotated[str | None, Query(description="only sites of this pack")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> SitePage:
    sites = sorted(runtime(request).pipeline.sites.values(), key=lambda s: s.id)
    if pack is not None:
        sites = [s for s in sites if s.pack == pack]
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.scoped:  # a key limited to some packs or sites
        sites = [s for s in sites if principal.may_see_site(s.id, s.pack)]
    if cursor is not None:
        sites = [s for s in sites if s.id > cursor]
    page = sites[:limit]
    more = len(sites) > limit
    return SitePage(sites=[_out(s) for s in page], next_cursor=page[-1].id if more else None)


@router.get("/{site_id}", response_model=SiteBody, summary="One site")
async def get_site(site_id: str, request: Request) -> SiteBody:
    site = runtime(request).pipeline.sites.get(site_id)
    if site is None:
        found = await runtime(request).storage.get_sites([site_id])
        if not found:
            raise NotFoundError(f"no site {site_id!r}")
        site = found[0]
    return _out(site)


@router.delete("/{site_id}", status_code=204, summary="Delete a site",
               description="Its readings are kept (and come back if the site is created "
                           "again) unless `purge=true`.")
async def delete_site(
    site_id: str, request: Request,
    purge: Annotated[bool, Query(description="also delete its readings")] = False,
) -> Response:
    if not await runtime(request).pipeline.delete_site(site_id, purge=purge):
        raise NotFoundError(f"no site {site_id!r}")
    return Response(status_code=204)
