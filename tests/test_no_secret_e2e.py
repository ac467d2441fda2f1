"""No credential in any output: every credential the app is configured with carries a marker, and
the marker is searched for, raw, percent-encoded and JSON-escaped, in everything real processes
(a gunicorn web, Celery workers, a web process whose broker refuses) show, store, send or log over:

- a full run (deployed) reading a git registry by a URL with a user and password
  (`file://user:MARKER@localhost/...`, which git accepts; the data is in the worker's cache);
- a failed run: the same URL naming a path git does not track, so DVC is asked and fails quoting the URL;
- an unreachable-registry run (`https://user:MARKER@127.0.0.1:<closed port>/...`), seen while it
  waits and after it gave up (RUN_RETRY_MAX_WAIT of a few seconds);
- a run the broker refused (`REDIS_URL` with the marker as its password, at a closed port);
- notifications of each to the Slack stand-in (its webhook path is the marker) and the SMTP stand-in.

Where the marker goes: DATA_REGISTRY (user and password), DATA_REMOTE (password), DATABASE_URL
(password: PostgreSQL here trusts 127.0.0.1 and ignores it), MLFLOW_TRACKING_URI (a `token=` query
parameter, which MLflow's SQLite store ignores), SLACK_WEBHOOK_URL (path), REDIS_URL (password,
only where the broker may refuse: Redis here has no password, so AUTH would fail a working one).
The outputs searched are listed in `OUTPUTS` and printed.
"""

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from config.celery import app
from retraining.data.source import DvcRegistrySource
from tests.support.pipeline import GOOD_PARAMS
from tests.support.processes import free_port, gunicorn, post_run_elsewhere, signed_in, subprocess_env, wait_for
from tests.support.standins import serve_slack, smtp
from tests.support.workers import PoolWorker

pytestmark = pytest.mark.slow
MARKER = f"Mkr{uuid.uuid4().hex[:16]}!x"
# Every form a tool might write it in; the core is in all of them.
FORMS = (MARKER, quote(MARKER, safe=""), json.dumps(MARKER)[1:-1], MARKER[:-2])
TOKEN = "no-secret-e2e-token"
PASSWORD = "no-secret-e2e-admin"
OUTPUTS = (
    "API: GET /api/v1/model, /api/v1/runs, /api/v1/runs/<id> of each run, /api/v1/workers, /api/v1/monitoring",
    "panel: dashboard, live.json, runs, each run's page and progress.json (also while a run waits), deployments",
    "admin: the runs and deployments lists and each run's and deployment's change page",
    "the answer of the web process whose broker refused the run",
    "notifications: every Slack body and every email (headers and decoded parts) the stand-ins received",
    "the MLflow store: every row of every table of its SQLite database",
    "MLflow artifacts: every file written under MLFLOW_ARTIFACT_ROOT during the test",
    "the app's database: every row of every table",
    "process logs: each Celery worker's, gunicorn's (its access log too), and the refusing web process's output",
)


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict]]]:
    yield from serve_slack(200, path=f"/hooks/{quote(MARKER)}")


@pytest.fixture
def mail() -> Iterator[tuple[int, list[str]]]:
    with smtp() as server:
        yield server


@pytest.fixture
def env(transactional_db, demo_registry, model_name, slack, mail, closed_port) -> dict[str, str]:
    """The environment of every process: each credential carries the marker."""
    database = settings.DATABASES["default"]
    secret = quote(MARKER, safe="")
    extra = {
        "DATA_REMOTE": f"https://dvc:{secret}@127.0.0.1:{closed_port}/remote",
        "MLFLOW_TRACKING_URI": f"{settings.MLFLOW_TRACKING_URI}?token={secret}",
        "SLACK_WEBHOOK_URL": slack[0],
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail[0]),
        "EMAIL_USE_TLS": "false",
        "NOTIFY_EMAILS": "team@example.com",
        "RETRAIN_API_TOKEN": TOKEN,
        "TRAINING_PARAMS": json.dumps(GOOD_PARAMS),
        "RUN_RETRY_FIRST_DELAY": "1",
        "RUN_RETRY_MAX_WAIT": "3",
    }
    if database["ENGINE"].endswith("postgresql"):
        user, host, port = database.get("USER") or "postgres", database.get("HOST") or "127.0.0.1", database["PORT"]
        extra["DATABASE_URL"] = f"postgres://{user}:{secret}@{host}:{port or 5432}/{database['NAME']}"
    return subprocess_env(**extra)


def registry_url(registry: Path) -> str:
    return f"file://user:{quote(MARKER, safe='')}@localhost{registry}"


def warm_cache(registry: Path) -> None:
    """The data in the workers' cache, as a worker has it after its first run: DVC itself does
    not accept a user in a file URL, git does."""
    source = DvcRegistrySource(registry, settings.DATA_PATH, settings.DATA_REV, settings.DATA_CACHE_DIR)
    source.pull(source.version())


def test_no_credential_is_in_any_output(env, demo_registry, slack, mail, closed_port, tmp_path) -> None:
    started = time.time()
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    call_command("collectstatic", "--noinput", verbosity=0)
    warm_cache(demo_registry)
    unreachable = f"https://user:{quote(MARKER, safe='')}@127.0.0.1:{closed_port}/registry.git"
    found: dict[str, str] = {}
    logs: list[Path] = []
    app.control.purge()
    with gunicorn({**env, "DATA_REGISTRY": unreachable, "WEB_ACCESS_LOG": "true"}, tmp_path / "web.log") as base:
        logs.append(tmp_path / "web.log")
        web = signed_in(base, "root", PASSWORD)
        # A client's credential in a query string, for the access log.
        assert requests.get(f"{base}/healthz?token={quote(MARKER, safe='')}", timeout=10).ok

        deployed = run_in_worker(web, base, tmp_path, logs, env, DATA_REGISTRY=registry_url(demo_registry))
        assert deployed["status"] == "deployed", deployed
        assert deployed["dataset"]["source"] == f"file://***@localhost{demo_registry}"

        failed = run_in_worker(
            web, base, tmp_path, logs, env, DATA_REGISTRY=registry_url(demo_registry), DATA_PATH="data/untracked.csv"
        )
        assert failed["status"] == "failed", failed
        assert "DVC could not read data/untracked.csv" in failed["error"]

        gave_up = run_in_worker(
            web, base, tmp_path, logs, env, DATA_REGISTRY=unreachable, seen_waiting=lambda run: pages(web, base, run)
        )
        assert gave_up["status"] == "failed", gave_up
        assert "gave up after" in gave_up["error"]
        assert "https://***@127.0.0.1" in gave_up["error"]
        found |= {f"while run #{gave_up['id']} waited: {name}": text for name, text in gave_up.pop("seen").items()}

        answer, printed = post_run_elsewhere({**env, "REDIS_URL": f"redis://:{quote(MARKER, safe='')}@127.0.0.1:1/0"})
        assert answer["status"] == 503, answer
        found["the refusing web process's answer"] = json.dumps(answer)
        found["the refusing web process's output"] = printed

        runs = [deployed["id"], failed["id"], gave_up["id"], answer["body"]["run"]["id"]]
        found |= api(web, base, runs) | panel(web, base, runs) | admin(web, base, runs)
        assert web.get(f"{base}/api/v1/model", timeout=10).json()["data_version"]["source"].startswith("file://***@")
    found |= {f"log {path.name}": path.read_text(errors="replace") for path in logs}
    found |= {f"Slack message {n}": json.dumps(body) for n, body in enumerate(slack[1])}
    found |= {f"email {n}": message for n, message in enumerate(mail[1])}
    assert len(slack[1]) >= 4, slack[1]
    assert len(mail[1]) >= 4, mail[1]
    found |= mlflow_store() | artifacts(started) | app_database()

    print("searched for", FORMS, "in", len(found), "outputs:", *OUTPUTS, *sorted(found), sep="\n  ")
    leaks = {name: [form for form in FORMS if form in text] for name, text in found.items()}
    assert not {name: forms for name, forms in leaks.items() if forms}


def run_in_worker(web: requests.Session, base: str, tmp_path: Path, logs: list[Path], env, seen_waiting=None, **own):
    """A run started over the API and executed by a worker of its own with `env` and `own`: its
    REST answer once finished (with what `seen_waiting` read while it waited, under "seen")."""
    worker = PoolWorker(tmp_path, GOOD_PARAMS, **{**env, **own})
    logs.append(worker.log)
    try:
        started = web.post(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert started.status_code in (201, 202), started.text
        run_id = started.json()["id"]
        seen = {}
        if seen_waiting is not None:
            wait_for(lambda: get(web, f"{base}/api/v1/runs/{run_id}")["waiting"], 60, f"run #{run_id} to wait")
            seen = seen_waiting(run_id)
        run = wait_for(lambda: finished(web, base, run_id), 180, f"run #{run_id} to finish ({worker.log})")
    finally:
        worker.stop()
    return run | {"seen": seen}


def get(web: requests.Session, url: str) -> dict:
    answer = web.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text[-2000:]
    return answer.json()


def finished(web: requests.Session, base: str, run_id: int) -> dict | None:
    run = get(web, f"{base}/api/v1/runs/{run_id}")
    # Notifications go out after the run is closed: finished once they went.
    return run if run["status"] not in ("queued", "running") and run["notifications"] else None


def fetch(web: requests.Session, base: str, paths: list[str]) -> dict[str, str]:
    answers = {}
    for path in paths:
        answer = web.get(f"{base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[-1000:])
        answers[f"GET {path}"] = answer.text
    return answers


def pages(web: requests.Session, base: str, run_id: int) -> dict[str, str]:
    """What shows a waiting run: its REST answer, the dashboard, live.json, its page and progress."""
    paths = [f"/api/v1/runs/{run_id}", "/panel/", "/panel/live.json", f"/panel/runs/{run_id}/"]
    return fetch(web, base, [*paths, f"/panel/runs/{run_id}/progress.json"])


def api(web: requests.Session, base: str, runs: list[int]) -> dict[str, str]:
    paths = ["/api/v1/model", "/api/v1/runs", "/api/v1/workers", "/api/v1/monitoring"]
    return fetch(web, base, [*paths, *(f"/api/v1/runs/{run}" for run in runs)])


def panel(web: requests.Session, base: str, runs: list[int]) -> dict[str, str]:
    paths = ["/panel/", "/panel/live.json", "/panel/runs/", "/panel/deployments/", "/panel/monitoring/"]
    return fetch(
        web, base, [*paths, *(p for run in runs for p in (f"/panel/runs/{run}/", f"/panel/runs/{run}/progress.json"))]
    )


def admin(web: requests.Session, base: str, runs: list[int]) -> dict[str, str]:
    from predictor.models import Deployment

    paths = ["/admin/retraining/retrainingrun/", "/admin/predictor/deployment/"]
    paths += [f"/admin/retraining/retrainingrun/{run}/change/" for run in runs]
    paths += [f"/admin/predictor/deployment/{pk}/change/" for pk in Deployment.objects.values_list("pk", flat=True)]
    return fetch(web, base, paths)


def mlflow_store() -> dict[str, str]:
    path = settings.MLFLOW_TRACKING_URI.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {f"MLflow table {table}": repr(db.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables}


def artifacts(since: float) -> dict[str, str]:
    root = Path(settings.MLFLOW_ARTIFACT_ROOT)
    files = [path for path in root.rglob("*") if path.is_file() and path.stat().st_mtime >= since]
    assert any(path.name == "lineage.json" for path in files), files
    return {f"artifact {path.relative_to(root)}": path.read_bytes().decode("latin-1") for path in files}


def app_database() -> dict[str, str]:
    with connection.cursor() as cursor:
        found = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found[f"app table {table}"] = repr(cursor.fetchall())
    return found
