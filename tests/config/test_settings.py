"""Settings come from the environment: embedded defaults, production values, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "db_host": settings.DATABASES["default"].get("HOST", ""),
    "broker": settings.CELERY_BROKER_URL,
    "broker_ssl": str(getattr(settings, "CELERY_BROKER_USE_SSL", "")),
    "cache": settings.CACHES["default"]["BACKEND"],
    "mlflow": settings.MLFLOW_TRACKING_URI,
    "registry": settings.DATA_REGISTRY,
    "demo": settings.DATA_IS_DEMO,
    "data_path": settings.DATA_PATH,
    "data_rev": settings.DATA_REV,
    "target": settings.TARGET_COLUMN,
    "model": settings.MODEL_NAME,
    "port": settings.PORT,
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "beat": settings.CELERY_BEAT_SCHEDULER,
    "app_version": settings.APP_VERSION,
    "min_clean_rows": settings.MIN_CLEAN_HOLDOUT_ROWS,
}))
"""
PRODUCTION_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "MLFLOW_TRACKING_URI",
    "DATA_REGISTRY",
    "SECRET_KEY",
    "DYNO",
)


def probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARIABLES}
    clean.update({"VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def values(tmp_path: Path, **env: str) -> dict:
    result = probe(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_runs_embedded_when_nothing_is_set(tmp_path: Path) -> None:
    got = values(tmp_path)
    var = tmp_path / "var"
    assert got["db_engine"] == "django.db.backends.sqlite3"
    assert got["db_name"] == str(var / "db.sqlite3")
    assert got["broker"] == "filesystem://"
    assert (var / "broker" / "queue").is_dir()
    assert got["mlflow"] == f"sqlite:///{var / 'mlflow.db'}"
    assert got["registry"] == str(var / "data-registry")
    assert got["demo"] is True
    assert (got["data_path"], got["data_rev"], got["target"]) == ("data/churn", "main", "churned")
    assert got["model"] == "churn-classifier"
    assert got["port"] == 8000
    assert got["debug"] is False
    assert got["beat"] == "retraining.workers.scheduler:Scheduler"
    # The generated secret key is kept for the next start.
    assert (var / "secret_key").read_text()


def test_it_switches_to_the_production_column(tmp_path: Path) -> None:
    got = values(
        tmp_path,
        DATABASE_URL="postgres://app:pw@db.example:5432/prod",
        REDIS_URL="rediss://:pw@cache.example:6380",
        MLFLOW_TRACKING_URI="http://mlflow.example:5000",
        DATA_REGISTRY="https://git.example/data.git",
        DATA_PATH="tables/churn.csv",
        DATA_REV="v2",
        TARGET_COLUMN="churned",
        PORT="9000",
        ALLOWED_HOSTS="app.example,api.example",
        SECRET_KEY="x" * 50,
    )
    assert got["db_engine"] == "django.db.backends.postgresql"
    assert (got["db_name"], got["db_host"]) == ("prod", "db.example")
    assert got["broker"] == "rediss://:pw@cache.example:6380"
    # Heroku Redis presents a self-signed certificate.
    assert "ssl_cert_reqs" in got["broker_ssl"]
    assert got["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert got["mlflow"] == "http://mlflow.example:5000"
    assert got["demo"] is False
    assert (got["registry"], got["data_path"], got["data_rev"], got["target"]) == (
        "https://git.example/data.git",
        "tables/churn.csv",
        "v2",
        "churned",
    )
    assert got["port"] == 9000
    assert got["hosts"] == ["app.example", "api.example"]


def test_the_penguins_demo_gives_its_own_defaults(tmp_path: Path) -> None:
    got = values(tmp_path, DEMO_DATASET="penguins")
    assert (got["data_path"], got["target"], got["model"]) == ("data/penguins", "species", "penguins-classifier")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysq://nope", "DATABASE_URL='mysq://nope' must be a URL starting with one of"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379' must be a URL starting with one of"),
        ("PORT", "eighty", "PORT='eighty' is not a whole number"),
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("TRAINING_PARAMS", "{n_estimators: 3}", "TRAINING_PARAMS is not valid JSON"),
        ("PREDICT_MAX_ROWS", "0", "PREDICT_MAX_ROWS='0' must be at least 1"),
        ("DEMO_DATASET", "iris", "DEMO_DATASET='iris' is not a demo dataset: choose churn, houses or penguins"),
        ("EXCLUDE_COLUMNS", "ts, churned", "EXCLUDE_COLUMNS lists the target column 'churned'"),
        ("TASK", "ranking", "TASK='ranking' must be classification or regression"),
        ("MODEL_TRUSTED_TYPES", "mypkg, my-pkg.Clip", "MODEL_TRUSTED_TYPES: 'my-pkg.Clip' is not a dotted Python name"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, heroku", "TRUSTED_PROXIES: 'heroku' is not an IP address or network"),
        ("RECENT_ROWS_SHARE", "-0.2", "RECENT_ROWS_SHARE='-0.2' must be a number of at least 0"),
        ("RECENT_ROWS_SHARE", "1", "RECENT_ROWS_SHARE=1.0 must be below 1 (the older rows keep some weight), or 0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = probe(tmp_path, **{variable: value})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last
    assert message in last


def test_a_bad_url_is_named_without_its_password(tmp_path: Path) -> None:
    result = probe(tmp_path, DATABASE_URL="mysql://app:s3cr3t-pw@db.example/app")
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://***@db.example/app' must be a URL starting with one of" in result.stderr
    assert "s3cr3t-pw" not in result.stderr + result.stdout


def test_a_dyno_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = probe(tmp_path, DYNO="web.1")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_every_variable_is_documented_in_env_example_and_readme() -> None:
    source = (ROOT / "config" / "settings.py").read_text()
    import re

    names = set(
        re.findall(r'env_(?:str|bool|int|float|list|dotted_list|json_object|url|networks)\(\s*"([A-Z0-9_]+)"', source)
    )
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "DATA_REGISTRY"} <= names
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in sorted(names | {"DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"}):
        assert re.search(rf"^#?\s*{name}=", example, re.M), f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from README"


def test_the_app_version_is_the_checkouts_commit_unless_one_is_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("APP_VERSION", raising=False)
    monkeypatch.delenv("SOURCE_VERSION", raising=False)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    assert values(tmp_path)["app_version"] == head
    assert values(tmp_path, SOURCE_VERSION="abc123")["app_version"] == "abc123"
    assert values(tmp_path, APP_VERSION="v9", SOURCE_VERSION="abc123")["app_version"] == "v9"


def test_too_few_clean_holdout_rows_is_a_setting_with_a_default(tmp_path: Path) -> None:
    assert values(tmp_path)["min_clean_rows"] == 30
    assert values(tmp_path, MIN_CLEAN_HOLDOUT_ROWS="200")["min_clean_rows"] == 200
