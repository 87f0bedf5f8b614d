"""``riskcast rules check`` and ``riskcast rules load``: YAML rules, errors naming the field.

Run through the sub-app (``riskcast.cli.rules.app``) until the lead registers it as
``riskcast rules``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskcast.alerts.sqlite import SqliteAlertStore
from riskcast.cli.rules import app

runner = CliRunner()

RULES = """\
routes:
  ops-hook: {type: webhook, url: "https://ops.example.org/hook", secret_env: OPS_SECRET}
rules:
  - id: hot
    selector: {pack: wildfire}
    condition: {kind: threshold, series: temp_c, above: 40, clear_below: 38}
    routes: [log, ops-hook]
    escalate_after: 15m
  - id: fwi-high
    condition: {kind: threshold, series: fwi, above: 30}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def stored(db: Path) -> tuple[list[str], list[str]]:
    async def read() -> tuple[list[str], list[str]]:
        store = SqliteAlertStore(db)
        await store.open()
        try:
            rules, routes = await store.rules()
            return [r.rule.id for r in rules], [r.name for r in routes]
        finally:
            await store.aclose()
    return asyncio.run(read())


def test_check_accepts_a_good_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(write(tmp_path, RULES))])
    assert result.exit_code == 0, result.output
    assert "2 rule(s), 1 route(s)" in result.output


@pytest.mark.parametrize(("text", "field"), [
    (RULES.replace("above: 40", "above: hot"), "rules[0].condition.above"),
    (RULES.replace("[log, ops-hook]", "[log, pager]"), "rules[0].routes[1]"),
    (RULES.replace("pack: wildfire", "pack: volcano"), "rules[0].selector.pack"),
    (RULES.replace("id: fwi-high", "id: hot"), "rules[1].id"),
    (RULES.replace('url: "https', 'url: "gopher'), "routes.ops-hook.url"),
])
def test_check_fails_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    result = runner.invoke(app, ["check", str(write(tmp_path, text))])
    assert result.exit_code == 1
    assert f"field: {field}" in result.output


def test_check_of_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_load_stores_routes_and_rules_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = runner.invoke(app, ["load", str(write(tmp_path, RULES)), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "loaded 2 rule(s) and 1 route(s)" in result.output
    assert stored(data / "alerts.db") == (["fwi-high", "hot"], ["ops-hook"])
    # a later file may name a route stored before
    later = "rules: [{id: cold, routes: [ops-hook], condition: {kind: threshold, " \
            "series: temp_c, below: 0}}]"
    result = runner.invoke(app, ["load", str(write(tmp_path, later, "more.yaml")),
                                 "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert stored(data / "alerts.db")[0] == ["cold", "fwi-high", "hot"]
    result = runner.invoke(app, ["check", str(tmp_path / "more.yaml"), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output


def test_load_refuses_an_invalid_file_and_stores_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = RULES.replace("series: fwi", "series: 'f w i'")
    result = runner.invoke(app, ["load", str(write(tmp_path, bad)), "--data-dir", str(data)])
    assert result.exit_code == 1
    assert "field: rules[1].condition.series" in result.output
    assert not (data / "alerts.db").exists()
