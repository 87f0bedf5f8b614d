"""The dashboard's files as the server sends them (no browser needed)."""

from __future__ import annotations

import re
from typing import Any

import httpx

IMPORT = re.compile(r"""^import .*? from "(\.{1,2}/[^"]+)";""", re.M)
ASSET = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")


def test_every_file_the_page_loads_is_served_and_revalidated(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        # Follow index.html's scripts and styles, then every module's imports.
        todo = ASSET.findall(index.text)
        assert "/static/app.js" in todo and "/static/vendor/uPlot.iife.min.js" in todo
        seen: set[str] = set()
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            r = client.get(path)
            assert r.status_code == 200, path
            # Revalidated each time (ETag), so an upgrade never mixes old and new modules.
            assert r.headers["cache-control"] == "no-cache", path
            assert r.headers["etag"], path
            if path.endswith(".js") and not path.startswith("/static/vendor/"):
                assert r.headers["content-type"].startswith("text/javascript"), path
                base = path.rsplit("/", 1)[0]
                for rel in IMPORT.findall(r.text):
                    todo.append(str(httpx.URL(f"http://x{base}/").join(rel).path))
        assert {"/static/stream.js", "/static/pages/site.js", "/static/land.js"} <= seen
        land = client.get("/static/vendor/land-110m.json")
        assert land.status_code == 200 and land.json()["type"] == "Topology"
