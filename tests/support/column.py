"""The production column on this machine: PostgreSQL and Redis on 127.0.0.1, a real `mlflow server`
(the full mlflow, from .venv-mlflow-ui) on PostgreSQL with its artifacts on an S3-compatible server
(moto's server mode), the data registry's DVC remote on that same server, and the product's
processes each started like a dyno.

A test brings its own databases and Redis DB (`Stores`), dropped and recreated first.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MLFLOW_SERVER = ROOT / ".venv-mlflow-ui" / "bin" / "mlflow"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "column-key",
    "AWS_SECRET_ACCESS_KEY": "column-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
DATA_PATH = "data/penguins.csv"


@dataclass(frozen=True)
class Stores:
    """The app's database, MLflow's database and the Redis DB a column runs on."""

    app_db: str
    mlflow_db: str
    redis_url: str

    def sql(self, query: str, *params: object) -> list[tuple]:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/{self.app_db}", autocommit=True) as connection:
            return connection.execute(query, params).fetchall()


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines if line)}


def wait_for(condition: Callable[[], object], seconds: float, what: str, logs: Path) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (requests.ConnectionError, requests.Timeout):
            value = None
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2500:]}" for log in sorted(logs.glob("*.log")))
    pytest.fail(f"{what} within {seconds}s\n{tails}")


class Column:
    """The processes of the deployment, each started like a dyno: `bash -c` in a process group."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.registry: Path | None = None

    def start(self, name: str, command: str) -> subprocess.Popen:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            env=self.env,
            stdout=(self.logs / f"{name}.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def run(self, name: str, command: str, timeout: float = 300, **extra: str) -> str:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        (self.logs / f"{name}.log").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, f"{name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def backing_services(tmp_path: Path, stores: Stores) -> Iterator[dict[str, str]]:
    """Fresh databases and Redis DB, an S3 server with two buckets and an MLflow tracking server.

    S3_KEYS must be in this process's environment (`running_column` sets them)."""
    import boto3
    import psycopg
    import redis

    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5) as connection:
            for name in (stores.app_db, stores.mlflow_db):
                connection.execute(f"drop database if exists {name} with (force)")
                connection.execute(f"create database {name}")
        redis.Redis.from_url(stores.redis_url, socket_timeout=5).flushdb()
    except (psycopg.OperationalError, redis.ConnectionError) as exc:
        pytest.skip(f"PostgreSQL and Redis must run on 127.0.0.1: {exc}")
    started: list[subprocess.Popen] = []
    s3_port, mlflow_port = free_port(), free_port()
    s3 = f"http://127.0.0.1:{s3_port}"
    try:
        started.append(
            subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                stdout=(tmp_path / "moto.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(lambda: requests.get(s3, timeout=2).ok, 60, "the S3 server never answered", tmp_path)
        client = boto3.client("s3", endpoint_url=s3)
        for bucket in ("mlflow", "dvc"):
            client.create_bucket(Bucket=bucket)
        # The MLflow server runs from the full mlflow package, as compose/mlflow.Dockerfile installs it:
        # the app's environment has the client only.
        subprocess.run([sys.executable, ROOT / "manage.py", "mlflow_ui", "--install-only"], check=True)
        started.append(
            subprocess.Popen(
                [
                    *(str(MLFLOW_SERVER), "server", "--host", "127.0.0.1", "--port", str(mlflow_port)),
                    *("--workers", "1", "--no-serve-artifacts", "--default-artifact-root", "s3://mlflow/artifacts"),
                    *("--backend-store-uri", f"postgresql+psycopg://postgres@127.0.0.1:5432/{stores.mlflow_db}"),
                ],
                env={**os.environ, "MLFLOW_S3_ENDPOINT_URL": s3},
                stdout=(tmp_path / "mlflow.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        mlflow = f"http://127.0.0.1:{mlflow_port}"
        wait_for(lambda: requests.get(f"{mlflow}/health", timeout=2).ok, 180, "MLflow never answered", tmp_path)
        yield {"s3": s3, "mlflow": mlflow}
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)


def column_env(tmp_path: Path, stores: Stores, services: dict[str, str], registry: Path) -> dict[str, str]:
    """The environment every process of the column shares: the stores, MLflow, the data registry."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "MLFLOW_", "DATA_"))}
    return {
        **kept,
        **S3_KEYS,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORT": str(free_port()),
        "DATABASE_URL": f"{POSTGRES}/{stores.app_db}",
        "REDIS_URL": stores.redis_url,
        "MLFLOW_TRACKING_URI": services["mlflow"],
        "MLFLOW_ARTIFACT_ROOT": "s3://mlflow/artifacts",
        "MLFLOW_S3_ENDPOINT_URL": services["s3"],
        "MODEL_NAME": f"column-{uuid.uuid4().hex[:8]}",
        "DATA_REGISTRY": str(registry),
        "DATA_PATH": DATA_PATH,
        "TARGET_COLUMN": "species",
        "DATA_CACHE_DIR": str(tmp_path / "data-cache"),
        "MODEL_POLL_INTERVAL": "1",
        "RUN_HEARTBEAT_INTERVAL": "1",
    }


@contextmanager
def running_column(tmp_path: Path, stores: Stores, **env: str) -> Iterator[Column]:
    """A column on `stores`: its backing services, the penguins demo registry, and the environment
    every process shares with `env` on top; each process started on it is stopped after."""
    from demo import batches

    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_KEYS.items():
            patch.setenv(name, value)
        with backing_services(tmp_path, stores) as services:
            registry = tmp_path / "registry"
            batches.ensure_demo_registry(registry, "s3://dvc/registry", DATA_PATH, services["s3"], "penguins")
            column = Column(tmp_path, {**column_env(tmp_path, stores, services, registry), **env})
            column.registry = registry
            try:
                yield column
            finally:
                column.stop_all()


def trigger_retrain(column: Column, **extra: str) -> int:
    """A run whose settings differ from the web's (a slow training): started from a one-off process."""
    out = column.run(
        "trigger",
        'python manage.py shell -c "from retraining.services import trigger_run; '
        "run, created = trigger_run('api'); print('RUN', run.pk, created)\"",
        **extra,
    )
    _, run_id, created = out.strip().splitlines()[-1].split()
    assert created == "True"
    return int(run_id)
