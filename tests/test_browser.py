"""The whole loop from a real browser: sign in, retrain, watch it live, read the run, roll back.

Debian's Chromium driven by Playwright, against gunicorn and a Celery worker started here.
Screenshots of every screen land in tests/artifacts/ (git-ignored).
"""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from predictor.models import ServingProcess
from retraining import demo
from retraining.models import RetrainingRun
from tests.support.processes import PENGUIN, free_port, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FINISHED = {"deployed", "kept", "skipped", "rejected", "failed"}

pytestmark = pytest.mark.slow


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def app(two_deployments, demo_registry, tmp_path) -> Iterator[str]:
    """gunicorn and a Celery worker on the test database, with new data waiting in the registry."""
    demo.publish_next_demo_batch(demo_registry, settings.DATA_PATH)
    call_command("collectstatic", "--noinput", verbosity=0)
    ServingProcess.objects.all().delete()  # this test process served too; only gunicorn counts now
    port = free_port()
    env = subprocess_env(PORT=str(port), WEB_CONCURRENCY="1", MODEL_POLL_INTERVAL="0.5")
    env.pop("TRAINING_PARAMS", None)
    web = start([str(BIN / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"], tmp_path / "web.log", env)
    worker = start(
        [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--pool=solo", "--purge",
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        tmp_path / "worker.log",
        env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("gunicorn never answered: " + (tmp_path / "web.log").read_text()[-3000:])
        yield base
    finally:
        stop(worker)
        stop(web)
        print((tmp_path / "worker.log").read_text()[-2000:])


@pytest.fixture
def browser_page(monkeypatch) -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM reads are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def served_version(base: str) -> str:
    response = requests.post(f"{base}/api/v1/predict", json={"instances": [PENGUIN]}, timeout=10)
    assert response.status_code == 200, response.text
    return response.headers["X-Model-Version"]


def test_staff_retrain_watch_the_steps_live_and_roll_back_from_the_browser(
    app, browser_page, two_deployments, staff_user
):
    page, base = browser_page, app
    weak, strong = two_deployments
    assert served_version(base) == strong.version

    page.goto(f"{base}/panel/")
    assert "/panel/login/" in page.url
    shot(page, "01-login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/panel/")
    assert page.text_content("[data-served-version]") == f"v{strong.version}"
    shot(page, "02-dashboard")

    page.click("[data-retrain]")
    page.wait_for_selector(".messages .success")
    run = RetrainingRun.objects.get(trigger="manual")
    assert page.get_attribute("[data-run-link]", "href") == f"/panel/runs/{run.pk}/"
    page.evaluate("window.notReloaded = true")

    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = tuple(page.eval_on_selector_all("[data-steps] li", "items => items.map(i => i.dataset.status)"))
        if not seen or seen[-1] != states:
            seen.append(states)
            if len(seen) == 3:
                shot(page, "03-dashboard-run-in-progress")
        if page.get_attribute("[data-progress]", "data-finished") == "true":
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the run never finished on the page; states seen: {seen}")
    # The poll that marked the run finished may have landed between the two reads above.
    final = tuple(page.eval_on_selector_all("[data-steps] li", "items => items.map(i => i.dataset.status)"))
    if final != seen[-1]:
        seen.append(final)
    assert page.evaluate("window.notReloaded") is True, "the page reloaded"
    assert len(seen) >= 3, f"the steps did not tick by: {seen}"
    assert any("running" in states for states in seen)
    status = page.text_content("[data-progress] [data-run-status]")
    run.refresh_from_db()
    assert run.status in {"deployed", "kept"}, (run.status, run.error)
    assert status == run.get_status_display()
    assert seen[-1][:5] == ("done",) * 5
    shot(page, "04-dashboard-run-finished")

    page.click("[data-run-link]")
    page.wait_for_url(f"{base}/panel/runs/{run.pk}/")
    assert page.is_visible("table[data-metrics]")
    assert run.decision_rule in page.text_content("body")
    shot(page, "05-run-page")

    page.click("text=Deployments")
    shot(page, "06-deployments")
    page.click(f"tr[data-deployment='{weak.pk}'] >> text=Roll back to this version")
    page.wait_for_url(f"{base}/panel/deployments/{weak.pk}/rollback/")
    shot(page, "07-rollback-confirm")
    page.fill("#id_reason", "checking the rollback from the browser")
    page.click(f"text=Yes, roll back to v{weak.version}")
    page.wait_for_selector(".messages .success")
    assert page.text_content("[data-served-version]") == f"v{weak.version}"

    deadline = time.monotonic() + 60
    while served_version(base) != weak.version:
        assert time.monotonic() < deadline, "gunicorn never switched to the rolled-back version"
        time.sleep(0.5)
    page.goto(f"{base}/panel/")
    page.wait_for_function(
        "document.querySelector('[data-served-processes]').textContent.startsWith('1 of 1')", timeout=30_000
    )
    shot(page, "08-dashboard-after-rollback")

    page.click("text=Schedule")
    page.check("input[name=preset][value=hourly]")
    assert page.input_value("input[name=cron]") == "0 * * * *"
    page.click("text=Save schedule")
    page.wait_for_selector(".messages .success")
    assert page.text_content("[data-cron]") == "0 * * * *"
    shot(page, "09-schedule")
    page.click("text=Policy")
    shot(page, "10-policy")
    page.goto(f"{base}/panel/runs/")
    shot(page, "11-runs")
