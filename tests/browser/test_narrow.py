"""The panel on a phone, 390 px wide: no page wider than the screen, the navigation one tap away,
tables scrolling inside their own box."""

import pytest
from django.utils import timezone

from predictor.models import Deployment
from retraining.models import RetrainingRun
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 390, 844
PAGES = ["/panel/", "/panel/runs/", "/panel/deployments/", "/panel/monitoring/", "/panel/policy/", "/panel/schedule/"]
NAVIGATION = ["Dashboard", "Runs", "Deployments", "Monitoring", "Policy", "Schedule", "Admin"]


@pytest.fixture
def history(db) -> RetrainingRun:
    """A champion and a kept run with long figures and words: what makes a table wide."""
    deployment = Deployment.objects.create(
        model_name="churn-classifier",
        version="2",
        source="pipeline",
        metrics={"accuracy": 0.8928, "f1": 0.7123, "precision": 0.8, "recall": 0.65, "roc_auc": 0.91},
        reason="accuracy: challenger 0.8928 vs champion 0.8123 (+0.0805), better by more than the holdout's noise",
    )
    return RetrainingRun.objects.create(
        trigger="manual",
        status="kept",
        active=None,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        model_version="3",
        champion_version=deployment.version,
        steps=[{"name": "check", "status": "done", "duration": 0.1}],
        challenger_metrics={"accuracy": 0.8827, "f1": 0.70, "precision": 0.79, "recall": 0.64, "roc_auc": 0.9},
        champion_metrics={"accuracy": 0.8928, "f1": 0.71, "precision": 0.8, "recall": 0.65, "roc_auc": 0.91},
        decision_rule="min_improvement",
        reasons=["accuracy: challenger 0.8827 vs champion 0.8928 (-0.0101), needs strictly better"],
    )


@pytest.fixture
def phone(browser_page):
    browser_page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return browser_page


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_no_panel_page_is_wider_than_a_390_px_screen(panel_server, history, phone):
    page = phone
    sign_in(page, panel_server)
    for path in PAGES:
        page.goto(f"{panel_server}{path}")
        shot(page, f"narrow{path.strip('/').replace('/', '-')}")
        assert page_width(page) <= WIDTH, f"{path} is {page_width(page)} px wide"


def test_a_wide_table_scrolls_inside_its_own_box(panel_server, history, phone):
    page = phone
    sign_in(page, panel_server)
    page.goto(f"{panel_server}/panel/runs/")
    table = page.locator("table").first
    scroll_width, client_width, overflow = table.evaluate(
        "t => [t.scrollWidth, t.clientWidth, getComputedStyle(t).overflowX]"
    )
    assert scroll_width > client_width, "the runs table fits: the test needs a wider one"
    assert overflow in ("auto", "scroll")
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    assert table.evaluate("t => t.scrollLeft") > 0, "the table does not scroll"
    assert page_width(page) <= WIDTH


def test_the_navigation_collapses_and_every_link_is_one_tap_away(panel_server, phone):
    page = phone
    sign_in(page, panel_server)
    toggle = page.locator("[data-nav-toggle]")
    assert toggle.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("nav.nav a", has_text="Schedule").is_visible()

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    shot(page, "narrow-navigation-open")
    for name in NAVIGATION:
        link = page.locator("nav.nav a", has_text=name)
        assert link.is_visible(), f"{name} is not shown"
        left, right = link.evaluate("a => { const r = a.getBoundingClientRect(); return [r.left, r.right]; }")
        assert left >= 0, f"{name} starts at {left} px, off the screen"
        assert right <= WIDTH, f"{name} ends at {right} px, off the screen"
    assert page_width(page) <= WIDTH

    page.locator("nav.nav a", has_text="Schedule").click()
    page.wait_for_url(f"{panel_server}/panel/schedule/")
    assert page.locator("[data-nav-toggle]").get_attribute("aria-expanded") == "false"


def test_a_wide_screen_shows_the_navigation_without_a_toggle(panel_server, browser_page):
    page = browser_page
    sign_in(page, panel_server)
    assert not page.locator("[data-nav-toggle]").is_visible()
    for name in NAVIGATION:
        assert page.locator("nav.nav a", has_text=name).is_visible()
