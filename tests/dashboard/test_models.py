"""The models page: versions with their metrics, train, deploy and roll back."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Site, shot

MODEL = "wildfire-occurrence"
TRAINING = 120_000  # ms: a 5-fold LightGBM fit sharing two cores with the browser


def test_train_deploy_and_roll_back_from_the_models_page(live: Site, page: Any) -> None:
    page.goto(live.page_url("#/models"))
    expect(page.locator("#conn")).to_have_attribute("data-status", "live")
    section = page.locator(f'section[data-model="{MODEL}"]')
    expect(section).to_contain_text("No versions yet.")
    # Training is a job: the new version appears when the `models` channel says it is done.
    def version(n: int) -> Any:
        return section.locator(f'article[data-version="{n}"]')

    for n in (1, 2):
        section.get_by_role("button", name="Train a new version").click()
        expect(version(n)).to_be_visible(timeout=TRAINING)
        expect(section.locator(".job")).to_have_attribute("data-job-state", "succeeded")
    # Cross-validated metrics beside the baseline's.
    expect(version(1).locator("table.metrics")).to_contain_text("roc_auc")
    expect(version(1).locator("table.metrics")).to_contain_text("majority class")

    deploy = {"name": "Deploy to production"}
    version(1).get_by_role("button", **deploy).click()
    expect(version(1).locator(".alias-production")).to_be_visible()
    version(2).get_by_role("button", **deploy).click()
    expect(version(2).locator(".alias-production")).to_be_visible()
    expect(version(2).get_by_role("button", **deploy)).to_be_disabled()
    assert live.get(f"/api/v1/models/{MODEL}")["aliases"] == {"production": 2}

    section.get_by_role("button", name="Roll back production").click()
    expect(version(1).locator(".alias-production")).to_be_visible()
    expect(version(2).locator(".alias-production")).to_have_count(0)
    assert live.get(f"/api/v1/models/{MODEL}")["aliases"] == {"production": 1}
    shot(page, "models")
    assert page.errors == []
