"""The SQLite model store: numbering, artifacts with sha256, the alias-move log."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.models.records import AliasMove
from riskcast.models.store import SqliteModelStore, check_name
from tests.models.conftest import meta


def test_versions_are_numbered_per_name_and_survive_reopening(data_dir: Path) -> None:
    store = SqliteModelStore(data_dir)
    assert [store.add(meta("a"), b"one").version, store.add(meta("a"), b"two").version,
            store.add(meta("b"), b"x").version] == [1, 2, 1]
    store.close()
    store = SqliteModelStore(data_dir)
    assert store.names() == ["a", "b"]
    second = store.get("a", 2)
    assert second.size == 3 and len(second.sha256) == 64
    assert store.read_artifact(second) == b"two"
    assert (data_dir / "models" / "a" / "2.skops").read_bytes() == b"two"
    store.close()


def test_tampered_artifact_is_refused(data_dir: Path) -> None:
    store = SqliteModelStore(data_dir)
    stored = store.add(meta("a"), b"genuine")
    store.artifact_path("a", 1).write_bytes(b"swapped")
    with pytest.raises(ValidationError, match="sha256"):
        store.read_artifact(stored)
    store.artifact_path("a", 1).unlink()
    with pytest.raises(NotFoundError, match="missing"):
        store.read_artifact(stored)
    store.close()


def test_unknown_version_is_not_found(data_dir: Path) -> None:
    store = SqliteModelStore(data_dir)
    with pytest.raises(NotFoundError):
        store.get("a", 1)
    store.close()


@pytest.mark.parametrize("name", ["../etc", ".hidden", "a/b", "", "x" * 65, "a b"])
def test_names_that_could_escape_the_folder_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_name(name)


def test_moves_are_logged_in_order_per_alias(data_dir: Path) -> None:
    store = SqliteModelStore(data_dir)
    for to, alias in ((1, "production"), (2, "staging"), (2, "production")):
        store.add_move(AliasMove(name="a", alias=alias, from_version=None, to_version=to,
                                 kind="deploy", by="me", at="2026-01-01T00:00:00Z"))
    assert [m.to_version for m in store.moves("a", "production")] == [1, 2]
    assert [m.alias for m in store.moves("a")] == ["production", "staging", "production"]
    store.close()
