"""Demo models: with ``--simulate``, served models that have no ``production`` version are
trained with quick settings and deployed in the background at start, so the simulated sites
get ``pred_*`` series within a minute or so (``make demo``). Each step is logged; a failure
is logged and never stops the server. The ``simulate_models`` setting turns it off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from riskcast.exceptions import NotFoundError

if TYPE_CHECKING:
    from riskcast.models.service import ModelService
    from riskcast.packs.base import Pack

log = logging.getLogger(__name__)
#: Trainer options that train fast enough for a demo, by model name.
QUICK_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "wildfire-occurrence": {"n_splits": 3},
    "water-do-forecast": {"days": 7},
    "water-wqi-forecast": {"days": 7},
}
BY: Final = "demo"


def undeployed(models: ModelService, packs: Iterable[Pack]) -> list[str]:
    """The served models of ``packs`` that have a trainer and no production version."""
    names: list[str] = []
    for pack in packs:
        for served in pack.models:
            if served.name in names or served.name not in models.trainers:
                continue
            try:
                models.version(served.name, "production")
            except NotFoundError:
                names.append(served.name)
    return names


async def deploy_missing(models: ModelService, packs: Iterable[Pack]) -> list[str]:
    """Train (quick settings) and deploy each served model with no production version, one
    after the other; answers the names deployed. Never raises for a model that fails."""
    names = await asyncio.to_thread(undeployed, models, list(packs))
    if names:
        log.info("demo: training %s (quick settings) to serve the simulated sites",
                 ", ".join(names))
    deployed = []
    for name in names:
        options = QUICK_OPTIONS.get(name, {})

        def progress(done: int, total: int, name: str = name) -> None:
            log.info("demo: training %s: %d/%d fits", name, done, total)

        try:
            meta = await asyncio.to_thread(models.train_sync, name, options, by=BY,
                                           progress=progress)
            await models.deploy(name, meta.version, "production", by=BY)
        except asyncio.CancelledError:
            raise
        except Exception:  # a demo model that fails never stops the server
            log.exception("demo: training or deploying %s failed", name)
            continue
        log.info("demo: %s version %d deployed to production", name, meta.version)
        deployed.append(name)
    return deployed
