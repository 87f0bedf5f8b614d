"""The model store contract, one suite over every backend (sqlite, postgres): numbering across
stores sharing one place, artifacts with their sha256, the alias log, tallies, feedback and
online state."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.feedback.predictions import PredictionFeedback
from riskcast.models.records import AliasMove
from riskcast.models.store import ModelStore, SqliteModelStore, alias_stack
from tests.conftest import require_service
from tests.models.conftest import meta

PG_URL = os.environ.get("RISKCAST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema of its own in the real PostgreSQL, dropped afterwards."""
    parts = urlsplit(PG_URL)
    require_service("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    import psycopg

    name = f"rc_models_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path,
               ) -> Iterator[Callable[[], ModelStore]]:
    """A factory of stores sharing one place (the same data dir, the same schema)."""
    made: list[ModelStore] = []
    if request.param == "sqlite":
        def make() -> ModelStore:
            made.append(SqliteModelStore(tmp_path / "data"))
            return made[-1]
    else:
        schema = request.getfixturevalue("pg_schema")
        from riskcast.models.postgres import PostgresModelStore

        def make() -> ModelStore:
            made.append(PostgresModelStore(PG_URL, schema=schema))
            return made[-1]
    yield make
    for store in made:
        store.close()


def move(to: int, kind: str = "deploy", alias: str = "production") -> AliasMove:
    return AliasMove(name="a", alias=alias, from_version=None, to_version=to,
                     kind=kind, by="t", at="2026-07-01T00:00:00Z")  # type: ignore[arg-type]


def test_versions_are_numbered_per_name_and_shared(make_store: Callable[[], ModelStore]
                                                   ) -> None:
    one, two = make_store(), make_store()
    assert one.stamp() == (0, 0)
    assert [one.add(meta("a"), b"one").version, two.add(meta("a"), b"two").version,
            one.add(meta("b"), b"x").version] == [1, 2, 1]
    assert two.names() == ["a", "b"] and one.latest("a").version == 2  # type: ignore[union-attr]
    second = two.get("a", 2)
    assert second.size == 3 and len(second.sha256) == 64 and second.features == ("a", "b", "c")
    assert one.read_artifact(second) == b"two"
    assert [v.version for v in one.versions("a")] == [1, 2] and one.versions("zz") == []
    assert one.latest("zz") is None
    with pytest.raises(NotFoundError):
        one.get("a", 3)
    forged = msgspec.structs.replace(second, sha256="0" * 64)
    with pytest.raises(ValidationError, match="sha256"):
        one.read_artifact(forged)


def test_concurrent_adds_never_share_a_number(make_store: Callable[[], ModelStore]) -> None:
    stores = [make_store() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        versions = list(pool.map(lambda i: stores[i % 3].add(meta("c"), bytes([i])).version,
                                 range(12)))
    assert sorted(versions) == list(range(1, 13))
    # Each number holds the artifact its adder wrote (no overwrite between stores).
    held = {stores[1].read_artifact(v)[0] for v in stores[0].versions("c")}
    assert held == set(range(12))


def test_the_alias_log_is_shared_and_moves_the_stamp(make_store: Callable[[], ModelStore]
                                                     ) -> None:
    one, two = make_store(), make_store()
    one.add(meta("a"), b"1")
    before = two.stamp()
    for m in (move(1), move(2), move(1, "rollback"), move(2, alias="staging")):
        one.add_move(m)
    assert two.stamp() != before
    assert alias_stack(two.moves("a", "production")) == [1]
    assert [m.to_version for m in two.moves("a")] == [1, 2, 1, 2]
    assert two.moves("a", "staging")[0].alias == "staging"


def test_tallies_feedback_and_online_state(make_store: Callable[[], ModelStore]) -> None:
    one, two = make_store(), make_store()
    tally = {"n": 2, "correct": 1, "brier_sum": 0.5, "abs_error_sum": 0.0, "sq_error_sum": 0.0}
    one.add_outcomes("a", 1, "2026-07-01", tally)
    one.add_outcomes("a", 1, "2026-07-01", tally)
    record = PredictionFeedback(name="a", version=1, site="s", time="2026-07-01T00:00:00Z",
                                predicted=0.7, truth=1, verdict="correct", by="ana",
                                at="2026-07-01T01:00:00Z")
    two.add_feedback(record, "2026-07-02", {**tally, "n": 1, "correct": 1, "brier_sum": 0.09})
    with pytest.raises(ConflictError):
        one.add_feedback(record, "2026-07-02", tally)
    rows = one.outcomes("a")
    assert [(r["day"], r["n"], r["correct"]) for r in rows] == [("2026-07-01", 4, 2),
                                                               ("2026-07-02", 1, 1)]
    assert rows[1]["brier_sum"] == pytest.approx(0.09)
    assert one.feedback("a") == [record] and one.feedback("other") == []
    assert one.get_online("a") is None
    one.put_online("a", ["x", "y"], {"w": [1.5, 2.0]}, "2026-07-01T00:00:00Z")
    one.put_online("a", ["x", "y"], {"w": [3.0, 2.0]}, "2026-07-01T00:00:01Z")
    assert two.get_online("a") == (["x", "y"], {"w": [3.0, 2.0]})
