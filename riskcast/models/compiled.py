"""A compiled tree path for LightGBM batches: treelite + TL2cgen to a shared library.

The booster (loaded from its skops artifact, allow-list and sha256 checked) is converted with
``treelite.frontend.from_lightgbm`` and compiled by TL2cgen into C, built with the system's
``gcc``, into ``<data_dir>/compiled/<key>.so``, where ``key`` is the artifact's sha256, the
two tools' versions and whether branches were annotated from the training reference: the
library is generated here from a model we already trust, never taken from outside, and a new
artifact or tool version compiles afresh. Its answers equal the booster's
(the bench checks every row). Compiling 100 trees takes about 2 s, so the service compiles in a
background thread on first batch use and serves from the booster until the library is ready.

Without treelite, tl2cgen or a C compiler this path is simply off (:func:`available`), and
batches go through the booster.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
#: One compile at a time (each uses every core).
_compiling = threading.Lock()


def available() -> bool:
    """Whether treelite, tl2cgen and gcc are all here."""
    try:
        import tl2cgen  # noqa: F401
        import treelite  # noqa: F401
    except ImportError:
        return False
    return shutil.which("gcc") is not None


def cache_key(sha256: str) -> str:
    """The library's name: the artifact's checksum and the compilers' versions."""
    import tl2cgen
    import treelite

    return f"{sha256[:32]}-tl{treelite.__version__}-tc{tl2cgen.__version__}"


class CompiledTrees:
    """A compiled library loaded for prediction; ``predict`` answers like ``booster.predict``."""

    def __init__(self, path: Path, nthread: int | None = None) -> None:
        import tl2cgen

        self.path = path
        self._predictor = tl2cgen.Predictor(str(path), nthread=nthread or os.cpu_count() or 1)
        self._dmatrix = tl2cgen.DMatrix

    def predict(self, X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Probabilities (``(rows,)`` binary, ``(rows, k)`` multiclass) or values."""
        dm = self._dmatrix(np.ascontiguousarray(X, dtype=np.float64), dtype="float64")
        out = np.asarray(self._predictor.predict(dm), dtype=float)
        out = out.reshape(out.shape[0], -1)
        return out[:, 0] if out.shape[1] == 1 else out


def compile_booster(booster: Any, cache_dir: Path, sha256: str,
                    sample: np.ndarray[Any, Any] | None = None) -> CompiledTrees:
    """The compiled library of ``booster`` (artifact checksum ``sha256``): loaded from
    ``cache_dir`` when built before, else compiled there first. Blocking (seconds).

    ``sample`` (rows of training data, e.g. the version's drift reference) annotates each
    branch with how often it is taken, so the C compiler lays out the likely path first
    (``annotate_in``; about 20 % faster here); the answers are the same."""
    import tl2cgen
    import treelite

    key = cache_key(sha256) + ("-annotated" if sample is not None and len(sample) else "")
    path = cache_dir / f"{key}.so"
    with _compiling:
        if not path.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            model = treelite.frontend.from_lightgbm(booster)
            threads = os.cpu_count() or 1
            with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
                built = Path(tmp) / "lib.so"
                params: dict[str, Any] = {"parallel_comp": 8}
                if sample is not None and len(sample):
                    notes = Path(tmp) / "branches.json"
                    tl2cgen.annotate_branch(model, tl2cgen.DMatrix(
                        np.ascontiguousarray(sample, dtype=np.float64), dtype="float64"),
                        path=str(notes), nthread=threads)
                    params["annotate_in"] = str(notes)
                tl2cgen.export_lib(model, toolchain="gcc", libpath=str(built), params=params,
                                   nthread=threads)
                os.replace(built, path)
            log.info("compiled %s", path)
    return CompiledTrees(path)
