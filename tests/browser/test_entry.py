"""The ways in and the news that goes stale: the root URL, the favicon, "Started run #N"."""

import pytest
from django.utils import timezone

from retraining.models import RetrainingRun
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow


def test_the_root_url_leads_a_browser_to_the_panel(panel_server, browser_page, page_problems):
    page = browser_page
    page.goto(f"{panel_server}/")
    assert "/panel/login/" in page.url
    sign_in(page, panel_server)
    page.goto(f"{panel_server}/")
    assert page.url == f"{panel_server}/panel/"
    assert page.text_content("h1") == "Dashboard"
    assert not page_problems.errors, page_problems.errors


def test_favicon_ico_is_an_icon_on_every_page(panel_server, browser_page, page_problems):
    page = browser_page
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    sign_in(page, panel_server)
    page.goto(f"{panel_server}/admin/")
    response = page.request.get(f"{panel_server}/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert not failed, failed
    assert not [error for error in page_problems.errors if "favicon" in error], page_problems.errors


def test_the_started_message_goes_once_its_run_has_ended(panel_server, browser_page):
    page = browser_page
    sign_in(page, panel_server)
    page.click("[data-retrain]")
    page.wait_for_selector(".messages .success")
    run = RetrainingRun.objects.get(trigger="manual")
    assert page.text_content(".messages .success").startswith(f"Started run #{run.pk}")
    page.wait_for_function(f"() => document.querySelector('[data-live]').dataset.runId === '{run.pk}'")
    assert page.is_visible(".messages .success"), "the message went while its run was still queued"

    RetrainingRun.objects.filter(pk=run.pk).update(
        status="skipped", active=None, finished_at=timezone.now(), reasons=["no new data"]
    )
    page.wait_for_selector(".messages", state="detached", timeout=20_000)
    assert page.text_content("[data-run-title]") == "Latest run"
    shot(page, "dashboard-started-message-gone")
