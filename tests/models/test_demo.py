"""With ``--simulate``, served models without a production version are trained and deployed in
the background, so the simulated sites get ``pred_*`` series; ``simulate_models`` turns it
off."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from riskcast.settings import Settings
from riskcast.testing.server import live_server

from ..conftest import SHARED_DATA
from ..pipeline.test_predictions_live import Events


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not beside the repository")
def test_a_simulated_server_trains_deploys_and_serves_its_models(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal", retention="0",
                        auth=False, keepalive="1s", simulate=True, simulate_sites=1,
                        simulate_interval="200ms", packs=["wildfire"])
    with live_server(settings) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        sites = [s["id"] for s in c.get("/api/v1/sites").json()["sites"]]
        assert len(sites) == 1
        with Events(c, f"site.{sites[0]}") as events:  # readings every 200 ms
            prediction = events.until(lambda d: d.get("type") == "prediction", within=120)
        assert prediction["variable"] == "pred_wildfire_occurrence"
        status = c.get("/api/v1/models/wildfire-occurrence/status").json()
        assert status["production"]["deployed_by"] == "demo"
        assert prediction["version"] == status["production"]["version"] == 1
        assert status["predictions"]["failures"] == 0
        points = c.get(f"/api/v1/sites/{sites[0]}/series/pred_wildfire_occurrence").json()
        assert points["points"]


def test_simulate_models_off_trains_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", retention="0", auth=False, simulate=True,
                        simulate_sites=1, simulate_models=False, packs=["wildfire"])
    with live_server(settings) as srv:
        assert "demo-models" not in {t.get_name() for t in srv.runtime._tasks}
        assert srv.runtime.models is not None
        assert srv.runtime.models.list()[0]["versions"] == 0
