"""The panel in a real browser: Debian's Chromium driven by Playwright.

Against gunicorn (and, when a test starts one, a Celery worker) on the test database, or against
Django's live server for pages that need no serving process. Screenshots of every screen land in
tests/artifacts/ (git-ignored).
"""

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from predictor.models import ServingProcess
from tests.support.browser import ARTIFACTS, PageProblems, start, stop
from tests.support.monitoring import drifting_traffic
from tests.support.pipeline import WEAK_PARAMS, run_pipeline
from tests.support.processes import gunicorn, subprocess_env

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


@pytest.fixture
def web(transactional_db, tmp_path) -> Iterator[str]:
    """gunicorn on the test database; its base URL. Nothing is queued for a worker yet."""
    from config.celery import app as celery_app

    call_command("collectstatic", "--noinput", verbosity=0)
    celery_app.control.purge()  # messages an earlier test left for runs that no longer exist
    ServingProcess.objects.all().delete()  # this test process served too; only gunicorn counts now
    # A run queued with no worker says why it waits after 2 s rather than the default 2 minutes.
    env = subprocess_env(RUN_STALL_ALERT_AFTER="2")
    env.pop("TRAINING_PARAMS", None)
    with gunicorn(env, tmp_path / "web.log") as base:
        yield base


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts a Celery worker when the test says so (a run can be seen queued first); the test
    may stop it again with `stop`."""
    started: list[subprocess.Popen] = []
    log = tmp_path / "worker.log"

    def begin() -> subprocess.Popen:
        env = subprocess_env()
        env.pop("TRAINING_PARAMS", None)
        command = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--pool=solo",
                   "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
        started.append(start(command, log, env))
        return started[-1]

    yield begin
    for process in started:
        stop(process)
    if started:
        print(log.read_text()[-2000:])


@pytest.fixture
def page_problems() -> PageProblems:
    """What the browser refused or reported while the test's page was open."""
    return PageProblems()


@pytest.fixture
def browser_page(monkeypatch, page_problems) -> Iterator:
    """A Chromium page; every test that uses it also fails on a Content-Security-Policy violation."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM reads are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(30_000)
        page_problems.watch(page)
        try:
            yield page
        finally:
            browser.close()
    assert not page_problems.violations, page_problems.violations


@pytest.fixture
def weak_champion(transactional_db, demo_registry, model_name, served_model, settings):
    """A champion crippled on purpose (one stump, demo batch 1): any normal challenger beats it."""
    from predictor.serving.holder import holder
    from retraining.models import RetrainingRun

    settings.TRAINING_PARAMS = WEAK_PARAMS
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    holder().sync()
    return run.deployment


@pytest.fixture
def drifting_champion(model_name) -> str:
    """A served penguin champion with a day of logged traffic whose body mass drifts away."""
    return drifting_traffic()


@pytest.fixture
def plain_static(settings) -> None:
    """Django's live server reads static files from the apps, not the collected, hashed copies."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}


@pytest.fixture
def panel_server(live_server, plain_static, staff_user) -> str:
    """Django's live server in this process: for pages that need no serving process or worker."""
    return live_server.url
