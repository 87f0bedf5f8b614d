"""Model files in a safe format: skops with an explicit allow-list, never pickle.

A skops file is a zip holding a JSON schema of the object tree plus numpy arrays. Before anything
is built from it, :func:`loads` lists every type the schema names (``skops.io.get_untrusted_types``)
and refuses the file with :class:`~riskcast.exceptions.ValidationError` naming each type that is
neither one skops trusts by default (scikit-learn estimators, numpy, builtins) nor in
:data:`ALLOWED_TYPES`. ``trusted=True`` is never passed (CVE-2024-37065).

>>> from sklearn.linear_model import LinearRegression
>>> import numpy as np
>>> model = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
>>> round(float(loads(dumps(model)).predict(np.array([[2.0]]))[0]), 6)
5.0
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any, Final

from riskcast.exceptions import MissingExtraError, NotFoundError, ValidationError

try:
    import skops.io as sio  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - installed with the ml extra
    raise MissingExtraError("skops", "ml") from err

#: Types skops does not trust by default that riskcast's estimators need (LightGBM, trees,
#: voting ensembles). Everything else not on skops' default list is refused.
ALLOWED_TYPES: Final[frozenset[str]] = frozenset({
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
})
#: The artifact file suffix.
SUFFIX: Final = ".skops"


def untrusted_types(data: bytes) -> list[str]:
    """The types named in the skops file ``data`` that are not allowed, sorted.

    Raises :class:`ValidationError` when ``data`` is not a skops file at all.
    """
    try:
        found = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as err:
        raise ValidationError(f"not a skops model file: {err}", field="artifact") from err
    return sorted(set(found) - ALLOWED_TYPES)


def dumps(model: Any) -> bytes:
    """``model`` as skops bytes; refused when it holds a type :func:`loads` would refuse."""
    try:
        data: bytes = sio.dumps(model)
    except (TypeError, ValueError, AttributeError) as err:
        raise ValidationError(f"cannot store {type(model).__name__} with skops: {err}",
                              field="model") from err
    refused = untrusted_types(data)
    if refused:
        raise ValidationError(
            f"{type(model).__name__} holds types outside the allow-list: {', '.join(refused)}",
            field="model")
    return data


def loads(data: bytes) -> Any:
    """The estimator in skops bytes ``data``; no code of a refused type ever runs.

    Raises :class:`ValidationError` naming every untrusted type, or when ``data`` is not a
    readable skops file.
    """
    refused = untrusted_types(data)
    if refused:
        raise ValidationError(
            f"model file refused: untrusted types {', '.join(refused)} "
            "(only scikit-learn and LightGBM estimators are loaded)", field="artifact")
    try:
        return sio.loads(data, trusted=sorted(ALLOWED_TYPES))
    except Exception as err:  # skops raises many kinds on a damaged file
        raise ValidationError(f"model file unreadable: {err}", field="artifact") from err


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> sha256(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def save(path: Path, model: Any) -> str:
    """Write ``model`` to ``path`` atomically (temporary file, then rename); return its sha256."""
    data = dumps(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return sha256(data)


def load(path: Path, expected_sha256: str | None = None) -> Any:
    """Load the model at ``path``, checking its sha256 first when one is given.

    Raises :class:`NotFoundError` for a missing file and :class:`ValidationError` for a
    checksum mismatch or a refused file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise NotFoundError(f"model file {path} is missing") from err
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise ValidationError(f"model file {path} does not match its recorded sha256",
                              field="artifact")
    return loads(data)
