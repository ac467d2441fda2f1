"""The deployment files say what the app needs: Procfile, app.json, Dockerfile, docker-compose.yml.

There is no Docker engine or Heroku here, so these tests hold the files to the project itself:
every command exists, every variable passed is one the settings read, nothing needed is missing.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
# Read from the environment by boto3 (S3 for MLflow artifacts and the DVC remote), not by settings.py.
READ_BY_BOTO3 = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
DEV_TOOLS = {"pytest", "pytest-django", "pytest-timeout", "hypothesis", "ruff", "playwright", "moto"}


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|float|list|json_object|url)\(\s*"([A-Z0-9_]+)"', source))


def variables_the_app_reads() -> set[str]:
    """Read by settings.py, by a command straight from os.environ, or by boto3 for S3."""
    commands = set()
    for path in [*ROOT.glob("retraining/**/*.py"), *ROOT.glob("predictor/**/*.py"), *ROOT.glob("config/*.py")]:
        commands |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', path.read_text()))
    return settings_variables() | commands | READ_BY_BOTO3


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_the_procfile_declares_release_web_worker_and_beat() -> None:
    entries = procfile()
    assert set(entries) == {"release", "web", "worker", "beat"}
    assert entries["release"] == "python manage.py migrate --noinput"
    assert "collectstatic" not in entries["release"]
    assert entries["web"] == "gunicorn config.wsgi --config config/gunicorn.py"
    assert entries["worker"].startswith("celery -A config worker")
    assert entries["beat"].startswith("celery -A config beat")


def test_every_procfile_command_is_installed_and_every_file_it_names_exists() -> None:
    for name, command in procfile().items():
        words = shlex.split(command)
        program = words[0]
        assert (VENV_BIN / program).exists() or program == "python", f"{name}: {program} is not installed"
        for word in words[1:]:
            if word.endswith(".py"):
                assert (ROOT / word).is_file(), f"{name}: {word} does not exist"


def test_gunicorn_binds_to_port_and_stops_inside_herokus_30_seconds(monkeypatch) -> None:
    import runpy

    monkeypatch.setenv("PORT", "5123")
    monkeypatch.setenv("DYNO", "web.1")
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert config["bind"] == "0.0.0.0:5123"
    # The router gives a request 30 s; a dyno gets 30 s between SIGTERM and SIGKILL.
    assert config["timeout"] < 30
    assert config["graceful_timeout"] < 30


def test_gunicorn_listens_on_this_machine_only_unless_told(monkeypatch) -> None:
    import runpy

    monkeypatch.delenv("DYNO", raising=False)
    monkeypatch.delenv("WEB_BIND", raising=False)
    monkeypatch.setenv("PORT", "5123")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "127.0.0.1:5123"
    monkeypatch.setenv("WEB_BIND", "0.0.0.0:9000")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "0.0.0.0:9000"


def test_gunicorn_keeps_no_control_socket_other_instances_could_take_over() -> None:
    import runpy

    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["control_socket_disable"] is True


def test_docker_compose_web_listens_on_every_interface_of_its_container() -> None:
    assert compose()["services"]["web"]["environment"]["WEB_BIND"] == "0.0.0.0:8000"


def test_the_python_version_is_pinned_for_the_buildpack() -> None:
    assert (ROOT / ".python-version").read_text().strip() == "3.11"


def test_requirements_txt_holds_no_test_or_lint_tools() -> None:
    names = {
        re.split(r"[=<>\[ ]", line, maxsplit=1)[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not names & DEV_TOOLS
    assert {"gunicorn", "whitenoise", "psycopg", "redis", "boto3", "dvc-s3"} <= names


def test_app_json_provisions_postgres_and_redis_and_runs_web_worker_and_one_beat() -> None:
    app = app_json()
    plans = [addon["plan"].split(":")[0] for addon in app["addons"]]
    assert plans == ["heroku-postgresql", "heroku-redis"]
    assert set(app["formation"]) == {"web", "worker", "beat"} == set(procfile()) - {"release"}
    assert app["formation"]["beat"]["quantity"] == 1
    assert app["env"]["SECRET_KEY"]["generator"] == "secret"
    assert app["scripts"]["postdeploy"] == "python manage.py bootstrap"


def test_app_json_describes_every_variable_and_each_is_one_the_app_reads() -> None:
    env = app_json()["env"]
    for name, spec in env.items():
        assert len(spec.get("description", "")) > 10, f"{name} has no description"
        assert name in variables_the_app_reads(), f"{name} is read by nothing"
    # What a dyno cannot run without: the checks refuse local stores, the settings a missing key.
    needed = {"SECRET_KEY", "ALLOWED_HOSTS", "MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_ROOT", "DATA_REGISTRY"}
    assert needed <= set(env)
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    assert env["SECURE_SSL_REDIRECT"]["value"] == "true"
    assert int(env["SECURE_HSTS_SECONDS"]["value"]) >= 31536000


def test_compose_runs_web_worker_and_beat_from_one_image_with_the_procfile_commands() -> None:
    services = compose()["services"]
    entries = procfile()
    for name in ("web", "worker", "beat", "release"):
        service = services[name]
        assert service["build"] == "."
        assert service["image"] == services["web"]["image"]
        assert shlex.join(service["command"]) == entries[name], f"{name} runs something the Procfile does not"


def test_compose_starts_the_app_only_once_its_services_are_healthy() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "minio", "mlflow", "web"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        for backing in ("postgres", "redis", "mlflow"):
            assert depends[backing]["condition"] == "service_healthy"
        assert depends["release"]["condition"] == "service_completed_successfully"
        assert services[name]["stop_grace_period"] == "30s"


def test_compose_runs_mlflow_on_postgres_with_artifacts_on_minio() -> None:
    services = compose()["services"]
    command = services["mlflow"]["command"]
    assert command[:2] == ["mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1].startswith("postgresql+psycopg://")
    assert command[command.index("--default-artifact-root") + 1] == "s3://mlflow/artifacts"
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    app_env = services["web"]["environment"]
    assert app_env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert app_env["MLFLOW_ARTIFACT_ROOT"] == "s3://mlflow/artifacts"
    assert app_env["DATA_REMOTE"].startswith("s3://")
    assert "mc mb --ignore-existing local/mlflow local/dvc" in services["buckets"]["command"][0]


def test_compose_passes_only_variables_the_settings_read() -> None:
    known = variables_the_app_reads()
    for name in ("web", "worker", "beat", "release"):
        unknown = set(compose()["services"][name]["environment"]) - known
        assert not unknown, f"{name} passes variables nothing reads: {sorted(unknown)}"


def test_the_dockerfile_builds_a_slim_non_root_image_from_requirements_txt_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim"]
    assert "pip install -r requirements.txt" in dockerfile
    assert not re.search(r"^(COPY|RUN)\b.*requirements-dev", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user
    assert user[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            found[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return found


def test_the_app_installs_the_mlflow_client_and_only_the_mlflow_server_the_full_package() -> None:
    app, server = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-mlflow-ui.txt")
    assert "mlflow" not in app
    assert app["mlflow-skinny"] == server["mlflow"]
    # MLflow's SQL store and registry, and pandas' string storage (the memory figures rely on it).
    assert {"sqlalchemy", "alembic", "skops", "pyarrow"} <= set(app)
    shared = set(app) & set(server)
    assert {name: app[name] for name in shared} == {name: server[name] for name in shared}


def test_compose_runs_the_mlflow_server_from_its_own_image_with_the_full_mlflow() -> None:
    service = compose()["services"]["mlflow"]
    assert service["build"] == {"context": ".", "dockerfile": "compose/mlflow.Dockerfile"}
    assert service["image"] != compose()["services"]["web"]["image"]
    dockerfile = (ROOT / "compose" / "mlflow.Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim"]
    assert "pip install -r requirements-mlflow-ui.txt" in dockerfile
    assert re.findall(r"^USER (\S+)$", dockerfile, re.M)[-1] not in {"root", "0"}
    assert "requirements-mlflow-ui.txt" not in (ROOT / ".dockerignore").read_text().split()


@pytest.mark.parametrize("path", ["docs/deploy-heroku.md", "docs/deploy-compose.md"])
def test_the_deploy_guides_name_every_variable_the_deployment_files_set(path: str) -> None:
    guide = (ROOT / path).read_text()
    names = set(app_json()["env"]) if "heroku" in path else set(compose()["services"]["web"]["environment"])
    missing = sorted(name for name in names if name not in guide)
    assert not missing, f"{path} does not mention {missing}"


def compose_app_environment(var_dir: Path) -> dict[str, str]:
    """The app containers' environment as compose gives it with an empty `.env` (and the one
    variable compose requires), VAR_DIR standing for the image's /app/var."""
    env = {}
    for name, value in compose()["services"]["web"]["environment"].items():
        value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
        env[name] = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "k" * 50, value)
    return {**env, "VAR_DIR": str(var_dir)}


def test_compose_says_its_app_containers_share_var_dir_and_check_deploy_finds_nothing_for_several_hosts(
    tmp_path: Path,
) -> None:
    image = (ROOT / "Dockerfile").read_text()
    var_dir = re.search(r"VAR_DIR=(\S+)", image).group(1)
    for name in ("web", "worker", "beat", "release"):
        assert f"appdata:{var_dir}" in compose()["services"][name]["volumes"], f"{name} does not share VAR_DIR"

    def check(env: dict[str, str]) -> subprocess.CompletedProcess:
        # Only what compose sets: none of this machine's (or the test run's) settings.
        clean = {k: v for k, v in os.environ.items() if k not in variables_the_app_reads()}
        command = [sys.executable, "manage.py", "check", "--deploy", "--tag", "hosts", "--fail-level", "WARNING"]
        return subprocess.run(command, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)

    env = compose_app_environment(tmp_path / "var")
    shared = check(env)
    assert shared.returncode == 0, shared.stderr
    env.pop("VAR_DIR_SHARED")
    assert "retraining.W001" in check(env).stderr
