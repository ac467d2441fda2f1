"""Two worker machines on one production column: a run whose process dies on one is recovered,
wherever its message lands.

Each worker runs under a hostname of its own (a UTS namespace, `unshare -u`, which needs root as CI
has) with its own VAR_DIR and data cache: they share only what machines share, PostgreSQL, Redis,
MLflow, S3 and the data registry. The embedded column (one SQLite file, one broker folder) cannot
stand for two machines, so this runs only where the suite runs on PostgreSQL and Redis.
"""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support.column import DATA_PATH, Column, Stores, procfile, running_column, trigger_retrain, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"),
        reason="two machines need the suite on PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL)",
    ),
]
HOSTS = ("host1", "host2")
# A training step (fit and logging) of several seconds: long enough to be caught in the middle of it.
SLOW = {"TRAINING_PARAMS": '{"n_estimators": 300}'}
HEARTBEAT_TIMEOUT = 8


def stores() -> Stores:
    """Databases named after the suite's, on the suite's Redis DB: columns of several checkouts never meet."""
    suite = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/")
    return Stores(f"{suite}_hosts", f"{suite}_hosts_mlflow", os.environ["REDIS_URL"])


class Machines:
    def __init__(self, column: Column, stores: Stores) -> None:
        self.column, self.stores = column, stores
        self.workers: dict[str, subprocess.Popen] = {}

    def start(self, host: str) -> None:
        own = Path(self.column.env["VAR_DIR"]).parent / host
        command = f"unshare -u sh -c 'hostname {host}; exec {procfile()['worker']}'"
        self.workers[host] = self.column.start(
            host, f"VAR_DIR={own / 'var'} DATA_CACHE_DIR={own / 'data-cache'} {command}"
        )

    def run(self, run_id: int) -> dict:
        status, step, error, reasons, owner, requeued_as, notifications = self.stores.sql(
            "select status, step, error, reasons, owner, requeued_as_id, notifications "
            "from retraining_retrainingrun where id = %s",
            run_id,
        )[0]
        return {
            "status": status,
            "step": step,
            "error": error,
            "reasons": reasons,
            "owner": owner,
            "requeued_as": requeued_as,
            "notifications": notifications,
        }

    def finished(self, run_id: int) -> dict | None:
        row = self.run(run_id)
        return row if row["status"] not in {"queued", "running"} else None

    def training(self, run_id: int) -> str:
        """The machine whose worker trains the run, once it does."""
        row = self.run(run_id)
        return row["owner"]["host"] if row["step"] == "train" else ""

    def notified(self, run_id: int) -> int:
        """How many notifications about the run every worker sent (the console mail backend)."""
        subject = re.compile(rf"Subject: \[retraining\] run #{run_id}: ")
        return sum(len(subject.findall((self.column.logs / f"{host}.log").read_text())) for host in HOSTS)

    def sweep(self) -> None:
        """What beat sends every minute, sent here often so the wait is the heartbeat timeout alone
        (the suite's broker is the column's)."""
        from config.celery import app

        app.send_task("retraining.tasks.sweep_stale_runs")


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[Machines]:
    if subprocess.run(["unshare", "-u", "true"], capture_output=True).returncode != 0:
        pytest.skip("a hostname per worker needs `unshare -u` (root)")
    column_stores = stores()
    extra = {"RUN_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT), "WORKER_HEARTBEAT_INTERVAL": "1"}
    with running_column(tmp_path, column_stores, NOTIFY_EMAILS="team@example.com", **extra) as column:
        column.run("release", procfile()["release"])
        both = Machines(column, column_stores)
        for host in HOSTS:
            both.start(host)
        for host in HOSTS:
            wait_for(lambda h=host: " ready." in (column.logs / f"{h}.log").read_text(), 60, host, column.logs)
        yield both


def test_a_run_whose_process_dies_on_one_machine_is_requeued_and_finishes_on_the_other(machines: Machines) -> None:
    from demo import batches

    logs = machines.column.logs
    doomed = trigger_retrain(machines.column, **SLOW)
    owner_host = wait_for(lambda: machines.training(doomed), 300, "no worker started training", logs)
    other = next(host for host in HOSTS if host != owner_host)
    time.sleep(1)

    # The pool process dies mid-train (the OOM killer): its worker lives on and reports.
    pool = machines.run(doomed)["owner"]["pid"]
    assert os.getpgid(pool) == machines.workers[owner_host].pid
    killed = time.monotonic()
    os.kill(pool, signal.SIGKILL)
    again = wait_for(lambda: machines.run(doomed)["requeued_as"], 30, "the run was never requeued", logs)
    delay = time.monotonic() - killed
    print(f"pool process killed on {owner_host} -> run #{doomed} requeued as #{again} in {delay:.1f} s")
    assert delay < 10, delay
    closed = machines.run(doomed)
    assert closed["status"] == "failed"
    assert f"(pid {pool} on {owner_host}, worker celery@{owner_host}) died during step 'train'" in closed["error"]

    outcome = wait_for(lambda: machines.finished(again), 300, "the requeued run never finished", logs)
    assert outcome["status"] == "deployed", outcome
    assert outcome["owner"]["host"] == other
    assert machines.notified(doomed) == 1

    # Now the whole worker of the machine that trains is killed: nothing on it can tell.
    batches.publish_next_demo_batch(machines.column.registry, DATA_PATH, "penguins")
    doomed = trigger_retrain(machines.column, **SLOW)
    owner_host = wait_for(lambda: machines.training(doomed), 300, "no worker started training", logs)
    other = next(host for host in HOSTS if host != owner_host)
    time.sleep(1)
    killed = time.monotonic()
    os.killpg(machines.workers[owner_host].pid, signal.SIGKILL)
    machines.workers[owner_host].wait(timeout=10)

    def requeued() -> int | None:
        machines.sweep()
        return machines.run(doomed)["requeued_as"]

    again = wait_for(requeued, 60, "the swept run was never requeued", logs)
    delay = time.monotonic() - killed
    print(f"worker group killed on {owner_host} -> run #{doomed} requeued as #{again} in {delay:.1f} s")
    # Counted from the run's last heartbeat, at most RUN_HEARTBEAT_INTERVAL (1 s) before the kill.
    assert HEARTBEAT_TIMEOUT - 1 <= delay < HEARTBEAT_TIMEOUT + 10, delay
    assert "no heartbeat for" in machines.run(doomed)["error"]

    outcome = wait_for(lambda: machines.finished(again), 300, "the requeued run never finished", logs)
    assert outcome["status"] in {"deployed", "kept"}, outcome
    assert outcome["owner"]["host"] == other
    for _ in range(3):
        machines.sweep()
    assert machines.run(doomed)["notifications"] == {"email": "sent"}
    assert machines.notified(doomed) == 1
