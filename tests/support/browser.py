"""Driving the panel in headless Chromium: signing in, reading the page, waiting on a run."""

import json
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.processes import PENGUIN

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
# Words that say a run has not ended yet, in any part of the page.
UNFINISHED_WORDS = ("queued", "running", "in progress")
# Every page reports what its Content-Security-Policy refused as a console line the test reads back.
VIOLATION = "csp-violation "
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(MARK + JSON.stringify({
    page: document.location.pathname,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  }));
});
""".replace("MARK", repr(VIOLATION))


@dataclass
class PageProblems:
    """What the browser refused or complained of on a page, and pages sent without a policy."""

    violations: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.text.startswith(VIOLATION):
            self.violations.append(json.loads(message.text.removeprefix(VIOLATION)))
        elif message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    def _response(self, response) -> None:
        if response.request.resource_type == "document" and "content-security-policy" not in response.headers:
            self.unprotected.append(response.url)


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/panel/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/panel/")


def served_version(base: str) -> str:
    response = requests.post(f"{base}/api/v1/predict", json={"instances": [PENGUIN]}, timeout=10)
    assert response.status_code == 200, response.text
    return response.headers["X-Model-Version"]


def page_text(page) -> str:
    """Everything a person reads on the page: the header and the main column."""
    return page.inner_text("body")


def mark_not_reloaded(page) -> None:
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.notReloaded") is True, "the page reloaded"


def wait_until_settled(page, run_id: int, seconds: float = 240) -> list[tuple[str, ...]]:
    """Waits, without reloading, until the card shows `run_id` finished with no step running;
    returns every sequence of step states the page showed on the way."""
    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        card = page.eval_on_selector(
            "[data-live]",
            "card => ({run: card.dataset.runId, finished: card.dataset.finished,"
            " steps: [...card.querySelectorAll('[data-steps] li')].map(i => i.dataset.status)})",
        )
        if not seen or seen[-1] != tuple(card["steps"]):
            seen.append(tuple(card["steps"]))
        if card["run"] == str(run_id) and card["finished"] == "true" and "running" not in card["steps"]:
            return seen
        time.sleep(0.2)
    pytest.fail(f"run #{run_id} never settled on the page; step states seen: {seen}")
