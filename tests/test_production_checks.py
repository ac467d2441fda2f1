"""Production settings: a dyno refuses stores it would lose, and `check --deploy` is clean."""

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from tests.support.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
REMOTE = {
    "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
    "MLFLOW_REGISTRY_URI": "https://mlflow.example.com",
    "MLFLOW_ARTIFACT_ROOT": "s3://models/artifacts",
    "DATA_REGISTRY": "https://github.com/example/registry.git",
}
PRODUCTION_ENV = {
    "DEBUG": "false",
    # What app.json's "generator": "secret" makes: 64 hex characters.
    "SECRET_KEY": secrets.token_hex(32),
    "ALLOWED_HOSTS": ".herokuapp.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
}


def production_errors() -> list[checks.CheckMessage]:
    return checks.run_checks(tags=["production"])


@pytest.fixture
def on_a_dyno(settings):
    settings.ON_HEROKU = True
    for name, value in REMOTE.items():
        setattr(settings, name, value)
    settings.DATA_IS_DEMO = False
    return settings


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "DATA_REGISTRY", "DYNO", "SECRET_KEY"}
    }
    clean.update(VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_a_dyno_with_remote_stores_passes(on_a_dyno) -> None:
    assert production_errors() == []


def test_nothing_is_refused_off_a_dyno(settings) -> None:
    settings.ON_HEROKU = False
    settings.MLFLOW_TRACKING_URI = "sqlite:///var/mlflow.db"
    assert production_errors() == []


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        ("MLFLOW_TRACKING_URI", "sqlite:////app/var/mlflow.db", "predictor.E001"),
        ("MLFLOW_TRACKING_URI", "/app/mlruns", "predictor.E001"),
        ("MLFLOW_REGISTRY_URI", "sqlite:///mlflow.db", "predictor.E002"),
        ("MLFLOW_ARTIFACT_ROOT", "/app/var/mlartifacts", "predictor.E003"),
        ("MLFLOW_ARTIFACT_ROOT", "file:///app/var/mlartifacts", "predictor.E003"),
        ("DATA_REGISTRY", "/app/var/data-registry", "retraining.E002"),
        ("DATA_REGISTRY", "/app/data/penguins.csv", "retraining.E002"),
    ],
)
def test_a_dyno_refuses_a_store_on_its_own_disk_and_says_what_to_set(on_a_dyno, name, value, error_id) -> None:
    setattr(on_a_dyno, name, value)
    errors = production_errors()
    assert [e.id for e in errors] == [error_id]
    assert name in errors[0].msg
    assert "wipes" in errors[0].msg
    assert "docs/deploy-heroku.md" in errors[0].hint


def test_a_refused_store_is_named_without_its_credentials(on_a_dyno) -> None:
    on_a_dyno.MLFLOW_TRACKING_URI = "sqlite:////app/var/mlflow.db?token=s3cr3t-token"
    on_a_dyno.DATA_IS_DEMO = True
    on_a_dyno.DATA_REMOTE = "/app/var/remote?X-Amz-Signature=s3cr3t-signature"

    messages = " ".join(error.msg for error in production_errors())

    assert "MLFLOW_TRACKING_URI='sqlite:////app/var/mlflow.db?token=***'" in messages
    assert "X-Amz-Signature=***" in messages
    assert "s3cr3t" not in messages


def test_a_dyno_refuses_the_demo_registry(on_a_dyno) -> None:
    on_a_dyno.DATA_IS_DEMO = True
    errors = production_errors()
    assert [e.id for e in errors] == ["retraining.E001"]
    assert "DATA_REGISTRY is not set" in errors[0].msg
    assert "s3://" in errors[0].hint


def test_the_release_step_fails_on_a_dyno_left_on_embedded_defaults(tmp_path: Path) -> None:
    result = manage(tmp_path, "migrate", "--noinput", DYNO="release.1", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    for needle in ("predictor.E001", "MLFLOW_TRACKING_URI", "retraining.E001", "DATA_REGISTRY", "wipes"):
        assert needle in result.stderr
    assert "Applying" not in result.stdout


def test_check_deploy_prints_no_warning_under_production_settings(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV, DYNO="web.1", **REMOTE)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert result.stderr == ""


def test_behind_the_router_http_is_redirected_and_cookies_are_secure(tmp_path: Path) -> None:
    probe = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "r = c.get('/healthz', HTTP_HOST='app.herokuapp.com')\n"
        "s = c.get('/healthz', HTTP_HOST='app.herokuapp.com', HTTP_X_FORWARDED_PROTO='https')\n"
        "print('|'.join(map(str, [r.status_code, r['Location'], s.headers.get('Strict-Transport-Security'),"
        " settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE])))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="config.settings", **PRODUCTION_ENV)
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    status, location, hsts, session_secure, csrf_secure = result.stdout.strip().splitlines()[-1].split("|")
    assert (status, location) == ("301", "https://app.herokuapp.com/healthz")
    assert hsts.startswith("max-age=31536000")
    assert session_secure == csrf_secure == "True"


@pytest.mark.slow
def test_a_worker_on_a_dyno_refuses_to_start_with_local_stores(tmp_path: Path) -> None:
    process = "worker"
    command = next(
        line.partition(":")[2].split()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith(f"{process}:")
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI"}}
    env.update(VAR_DIR=str(tmp_path / "var"), DYNO=f"{process}.1", SECRET_KEY="x" * 60, **{"DATA_REGISTRY": ""})
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert "predictor.E001: MLFLOW_TRACKING_URI=" in result.stderr
    assert "HINT: Set MLFLOW_TRACKING_URI to an MLflow tracking server" in result.stderr
    assert "retraining.E001: DATA_REGISTRY is not set" in result.stderr


# Several hosts: processes that share a database server may run on other machines, where a path
# under this one's VAR_DIR (or a key generated into it) is not the same thing.
SERVER_DATABASE = "postgres://app@db.example:5432/app"


def host_warnings() -> list[checks.CheckMessage]:
    return checks.run_checks(tags=["hosts"], include_deployment_checks=True)


@pytest.fixture
def on_a_database_server(settings):
    settings.DATABASE_URL = SERVER_DATABASE
    settings.SECRET_KEY_GENERATED = False
    settings.VAR_DIR_SHARED = False
    for name, value in REMOTE.items():
        setattr(settings, name, value)
    settings.DATA_IS_DEMO = False
    return settings


def test_remote_stores_and_a_set_key_pass_on_a_database_server(on_a_database_server) -> None:
    assert host_warnings() == []


def test_a_generated_key_is_a_warning_on_a_database_server(on_a_database_server) -> None:
    on_a_database_server.SECRET_KEY_GENERATED = True
    (warning,) = host_warnings()
    assert warning.id == "predictor.W001"
    assert "SECRET_KEY is not set" in warning.msg
    assert "sessions" in warning.msg


def test_the_demo_registry_under_var_dir_is_a_warning_on_a_database_server(on_a_database_server) -> None:
    on_a_database_server.DATA_IS_DEMO = True
    on_a_database_server.DATA_REGISTRY = str(on_a_database_server.VAR_DIR / "data-registry")
    (warning,) = host_warnings()
    assert warning.id == "retraining.W001"
    assert "DATA_REGISTRY" in warning.msg
    assert str(on_a_database_server.VAR_DIR) in warning.msg
    assert "VAR_DIR_SHARED" in warning.hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLFLOW_TRACKING_URI", "sqlite:////srv/app/var/mlflow.db"),
        ("MLFLOW_REGISTRY_URI", "/srv/mlruns"),
        ("MLFLOW_ARTIFACT_ROOT", "/srv/app/var/mlartifacts"),
    ],
)
def test_a_local_mlflow_store_is_a_warning_on_a_database_server(on_a_database_server, name, value) -> None:
    setattr(on_a_database_server, name, value)
    (warning,) = host_warnings()
    assert warning.id == "predictor.W002"
    assert f"{name}={value!r}" in warning.msg


def test_a_var_dir_every_process_shares_silences_what_lives_under_it(on_a_database_server) -> None:
    var = on_a_database_server.VAR_DIR
    on_a_database_server.VAR_DIR_SHARED = True
    on_a_database_server.SECRET_KEY_GENERATED = True
    on_a_database_server.DATA_REGISTRY = str(var / "data-registry")
    on_a_database_server.MLFLOW_TRACKING_URI = f"sqlite:///{var / 'mlflow.db'}"
    on_a_database_server.MLFLOW_ARTIFACT_ROOT = "/srv/elsewhere/mlartifacts"
    assert [w.id for w in host_warnings()] == ["predictor.W002"]


def test_one_host_on_sqlite_is_not_warned(settings) -> None:
    settings.DATABASE_URL = "sqlite:///var/db.sqlite3"
    settings.SECRET_KEY_GENERATED = True
    settings.DATA_IS_DEMO = True
    assert host_warnings() == []


def test_check_deploy_warns_of_what_other_hosts_would_not_share(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", DATABASE_URL=SERVER_DATABASE)
    assert result.returncode != 0
    for needle in (
        "(predictor.W001) SECRET_KEY is not set",
        "(retraining.W001) DATA_REGISTRY is not set",
        "(predictor.W002) MLFLOW_TRACKING_URI=",
        "(predictor.W002) MLFLOW_ARTIFACT_ROOT=",
    ):
        assert needle in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("process", ["worker", "beat"])
def test_the_worker_and_beat_warn_at_start_of_what_other_hosts_would_not_share(tmp_path: Path, process: str) -> None:
    command = next(
        line.partition(":")[2].split()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith(f"{process}:")
    )
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MLFLOW_TRACKING_URI", "SECRET_KEY", "DYNO"}}
    # A database server nothing answers at: the warnings come before the first query.
    env.update(VAR_DIR=str(tmp_path / "var"), DATABASE_URL=f"postgres://app@127.0.0.1:{free_port()}/app")
    env["DATA_REGISTRY"] = ""
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    log = tmp_path / f"{process}.log"
    started = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for(lambda: "retraining.W001" in log.read_text() or started.poll() is not None, 60, f"{process} ({log})")
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
        started.wait()
    output = log.read_text()
    for needle in ("predictor.W001: SECRET_KEY is not set", "retraining.W001: DATA_REGISTRY", "predictor.W002"):
        assert needle in output, output
