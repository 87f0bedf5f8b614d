"""Every alert store passes the same contract; a new backend is one more parameter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.records import (
    Alert,
    AlertQuery,
    Change,
    Feedback,
    Matcher,
    NamedRoute,
    OutboxItem,
    OutboxUpdate,
    Silence,
    StoredRule,
    Transition,
)
from riskcast.alerts.routes import LogRoute, WebhookRoute
from riskcast.alerts.rules import parse_rule
from riskcast.alerts.sqlite import SqliteAlertStore
from riskcast.alerts.store import AlertStore
from riskcast.exceptions import StorageError


def _postgres(_: Path) -> AlertStore:
    """A PostgreSQL alert store in a schema of its own (dropped after the test)."""
    from tests.storage.test_postgres import URL, _require_postgres

    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    _require_postgres()
    from riskcast.alerts.postgres import PostgresAlertStore

    return PostgresAlertStore(URL, schema=f"rc_test_{uuid.uuid4().hex[:12]}")


BACKENDS: dict[str, Callable[[Path], AlertStore]] = {
    "memory": lambda _: MemoryAlertStore(),
    "sqlite": lambda path: SqliteAlertStore(path / "alerts.db"),
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlertStore]:
    s = BACKENDS[request.param](tmp_path)
    await s.open()
    yield s
    await s.aclose()
    schema = getattr(s, "schema", None)
    if schema is not None:
        from tests.storage.test_postgres import _drop

        _drop(schema)


def alert(aid: str, state: str = "firing", **kw: object) -> Alert:
    rule, site = aid.split(":")
    return Alert(id=aid, rule=rule, site=site, state=state, severity="warning",  # type: ignore[arg-type]
                 started_at=1, updated_at=1, **kw)  # type: ignore[arg-type]


def outbox(oid: str, *, status: str = "pending", due: int = 10, created: int = 1) -> OutboxItem:
    return OutboxItem(id=oid, created_at=created, due_at=due, group="r|log", rule="r",
                      alert="r:s1", route_name="log", route=LogRoute(), event="firing",
                      status=status, payload={"site": "s1"})  # type: ignore[arg-type]


pytestmark = pytest.mark.anyio


async def test_rules_and_routes_round_trip(store: AlertStore) -> None:
    rule = parse_rule({"id": "hot", "condition": {"kind": "threshold", "series": "t",
                                                  "above": 1},
                       "routes": ["log", {"type": "webhook", "url": "http://x", "secret": "k"}]})
    hook = NamedRoute(name="hook", route=WebhookRoute(url="http://h"), updated_at=3)
    await store.write(Change(rules=[StoredRule(rule=rule, source="api", updated_at=2)],
                             routes=[hook]))
    rules, routes = await store.rules()
    assert [r.rule for r in rules] == [rule] and routes == [hook]
    await store.write(Change(delete_rules=["hot"]))
    assert (await store.rules())[0] == []


async def test_alerts_filter_and_page_by_id(store: AlertStore) -> None:
    await store.write(Change(alerts=[alert("a:s1"), alert("a:s2", "resolved"),
                                     alert("b:s1", "pending")]))
    assert [a.id for a in await store.alerts()] == ["a:s1", "a:s2", "b:s1"]
    assert [a.id for a in await store.alerts(AlertQuery(state="firing"))] == ["a:s1"]
    assert [a.id for a in await store.alerts(AlertQuery(rule="a"))] == ["a:s1", "a:s2"]
    assert [a.id for a in await store.alerts(AlertQuery(site="s1"))] == ["a:s1", "b:s1"]
    assert [a.id for a in await store.alerts(AlertQuery(after="a:s1", limit=1))] == ["a:s2"]
    assert [a.id for a in await store.alerts(AlertQuery(id="b:s1"))] == ["b:s1"]
    await store.write(Change(alerts=[alert("a:s1", "acknowledged", acknowledged_by="ann")]))
    [got] = await store.alerts(AlertQuery(id="a:s1"))
    assert (got.state, got.acknowledged_by) == ("acknowledged", "ann")


async def test_transitions_in_seq_order(store: AlertStore) -> None:
    ts = [Transition(alert="a:s1", seq=2, from_state="pending", to_state="firing", at=5,
                     by="engine"),
          Transition(alert="a:s1", seq=1, from_state=None, to_state="pending", at=4, by="engine")]
    await store.write(Change(transitions=ts))
    assert [t.seq for t in await store.transitions("a:s1")] == [1, 2]
    assert await store.transitions("nope") == []


async def test_silences_replace_and_delete(store: AlertStore) -> None:
    s = Silence(id="x", matchers=[Matcher(label="rule", value="a")], starts_at=1, ends_at=9,
                created_at=1)
    await store.write(Change(silences=[s]))
    await store.write(Change(silences=[Silence(id="x", sites=["s1"], starts_at=1, ends_at=5,
                                               created_at=1)]))
    [got] = await store.silences()
    assert (got.sites, got.ends_at) == (["s1"], 5)
    await store.write(Change(delete_silences=["x"]))
    assert await store.silences() == []


async def test_outbox_by_status_and_due_time(store: AlertStore) -> None:
    await store.write(Change(outbox=[outbox("o2", due=20), outbox("o1", due=10),
                                     outbox("o3", status="dead", due=5)]))
    assert [o.id for o in await store.outbox({"pending"})] == ["o1", "o2"]
    assert [o.id for o in await store.outbox({"pending"}, due_before=15)] == ["o1"]
    assert [o.id for o in await store.outbox({"pending", "dead"}, limit=2)] == ["o3", "o1"]
    assert [o.id for o in await store.outbox({"pending", "dead"}, groups={"r|log"})] == [
        "o3", "o1", "o2"]
    assert await store.outbox({"pending"}, groups={"other"}) == []
    [o1] = await store.outbox({"pending"}, due_before=10)
    await store.write(Change(outbox_updates=[
        OutboxUpdate.of(o1, status="sent", sent_at=100, attempts=1, message="m1")]))
    [sent] = await store.outbox({"sent"})
    assert (sent.id, sent.sent_at, sent.attempts, sent.message) == ("o1", 100, 1, "m1")
    assert sent.payload == {"site": "s1"}  # the payload is as inserted
    await store.write(Change(prune_sent_before=101))
    assert await store.outbox({"sent"}) == []


async def test_feedback_by_rule_and_alert(store: AlertStore) -> None:
    fs = [Feedback(id=f"f{i}", alert=f"{r}:s1", rule=r, site="s1", verdict="true_positive",
                   at=10 - i) for i, r in enumerate(["a", "a", "b"])]
    await store.write(Change(feedback=fs))
    assert [f.id for f in await store.feedback(rule="a")] == ["f1", "f0"]
    assert [f.id for f in await store.feedback(alert="b:s1")] == ["f2"]
    assert len(await store.feedback()) == 3


async def test_a_change_is_all_or_nothing(store: AlertStore, tmp_path: Path) -> None:
    await store.write(Change(alerts=[alert("a:s1")]))
    if isinstance(store, MemoryAlertStore):
        store.fail_next_write = True
    elif hasattr(store, "schema"):  # PostgreSQL
        import psycopg

        from tests.storage.test_postgres import URL

        with psycopg.connect(URL, autocommit=True) as conn:
            schema = store.schema
            conn.execute(f"CREATE FUNCTION {schema}.boom() RETURNS trigger LANGUAGE plpgsql "
                         "AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$")
            conn.execute(f"CREATE TRIGGER boom BEFORE INSERT ON {schema}.alert_outbox "
                         f"FOR EACH ROW EXECUTE FUNCTION {schema}.boom()")
    else:
        # the outbox insert fails inside the transaction, after the alert update
        store._db().execute("CREATE TRIGGER boom BEFORE INSERT ON outbox "  # type: ignore[attr-defined]
                            "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(StorageError):
        await store.write(Change(alerts=[alert("a:s1", "resolved")], outbox=[outbox("o1")]))
    [got] = await store.alerts()
    assert got.state == "firing"
    assert await store.outbox({"pending"}) == []


async def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    first = SqliteAlertStore(tmp_path / "a.db")
    await first.open()
    await first.write(Change(alerts=[alert("a:s1")], outbox=[outbox("o1")]))
    await first.aclose()
    await first.aclose()  # twice is fine
    second = SqliteAlertStore(tmp_path / "a.db")
    await second.open()
    assert [a.id for a in await second.alerts()] == ["a:s1"]
    assert [o.id for o in await second.outbox({"pending"})] == ["o1"]
    mode = second._db().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    await second.aclose()


async def test_closed_store_refuses(tmp_path: Path) -> None:
    s = SqliteAlertStore(tmp_path / "a.db")
    with pytest.raises(StorageError):
        await s.alerts()
