"""Which process works on a running run, and whether it is still alive.

A pool process killed mid-run (the OOM killer, an operator) leaves its run `running`. With acks
late, Celery hands the run's message out again as soon as the worker sees the process gone; that
redelivery finds the run already started. If the process that claimed the run is dead (`lost`
says why), retraining/services.py `recover` closes the run as failed with the reason and queues it
again once, at once, rather than waiting for the stale-heartbeat sweep. If it is alive (a duplicate
delivery while the run goes on), nothing is done.

The claim records the owner: the Celery worker's name, the machine, the process id and that
process's start time (a pid can be reused, its start time cannot). "Dead" is decided exactly,
never guessed from silence alone: on the same machine, no process with that pid and start time;
or the owner's worker (its heartbeat row, retraining/workers/heartbeat.py) stopped, went silent,
or was started again since the claim; or that worker still reports, but no live process of it holds
the run (its heartbeat lists the runs its live pool processes hold). So whichever worker the
redelivered message lands on, on any machine, sees the same thing.
"""

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

import psutil
from django.conf import settings
from django.utils import timezone

from retraining.models import RetrainingRun, WorkerHeartbeat

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status

# A worker records a task as its own a moment after its pool process starts it (and claims the run):
# only a heartbeat written this long after the claim can prove the run is not held.
LISTED_AFTER = timedelta(seconds=2)


def here(worker: str = "") -> dict[str, Any]:
    """This process as a run's owner; `worker` is the Celery worker's name ("" outside a worker)."""
    pid = os.getpid()
    return {
        "worker": worker,
        "host": socket.gethostname(),
        "pid": pid,
        "process_started": psutil.Process(pid).create_time(),
        "claimed_at": timezone.now().isoformat(),
    }


def starter(kind: str) -> dict[str, Any]:
    """This process as the starter of a run it queues (a command, a request, beat's task)."""
    pid = os.getpid()
    started = psutil.Process(pid).create_time()
    return {"kind": kind, "host": socket.gethostname(), "pid": pid, "process_started": started}


def starter_gone(run: RetrainingRun, now: datetime | None = None) -> str:
    """Why the queued run's starter can no longer hand it to anyone; "" while it may.

    Only while the starter answers for the run (its lease is set: no worker claimed the run and
    the broker does not hold its message). On the starter's own machine a dead process is seen at
    once; from elsewhere, when the lease runs out.
    """
    if run.status != Status.QUEUED or run.start_lease_until is None:
        return ""
    who = run.starter or {}
    name = f"{who.get('kind') or run.trigger}, pid {who.get('pid', '?')} on {who.get('host', '?')}"
    if who.get("host") == socket.gethostname() and who.get("pid") and not _running(who["pid"], who["process_started"]):
        return f"the process that queued it ({name}) died before any worker claimed it"
    if run.start_lease_until < (now or timezone.now()):
        return (
            f"the process that queued it ({name}) neither handed it to the broker nor had it claimed "
            f"within RUN_START_LEASE={settings.RUN_START_LEASE}s"
        )
    return ""


def lost(run: RetrainingRun, now: datetime | None = None) -> str:
    """Why the process that claimed this running run is known to be dead; "" if it may be alive."""
    owner = run.owner
    if run.status != Status.RUNNING or not owner.get("pid"):
        return ""
    now = now or timezone.now()
    claimed_at = datetime.fromisoformat(owner["claimed_at"])
    who = f"pid {owner['pid']} on {owner['host']}" + (f", worker {owner['worker']}" if owner["worker"] else "")
    during = f"during step {run.step or '?'!r}"
    row = None
    if owner["worker"]:
        row = WorkerHeartbeat.objects.filter(hostname=owner["worker"]).first()
        silent = now - timedelta(seconds=settings.WORKER_HEARTBEAT_TIMEOUT)
        if row is not None and row.stopped_at is not None and row.stopped_at >= claimed_at:
            return f"the process that ran it ({who}) is gone {during}: its worker stopped at {row.stopped_at:%H:%M:%S}"
        if row is not None and row.seen_at < silent:
            return (
                f"the process that ran it ({who}) is gone {during}: its worker has not reported "
                f"for {(now - row.seen_at).total_seconds():.0f} s"
            )
        if row is not None and row.started_at > claimed_at:
            return f"the process that ran it ({who}) is gone {during}: its worker was started again since"
    if owner["host"] == socket.gethostname():
        if not _running(owner["pid"], owner["process_started"]):
            return f"the process that ran it ({who}) died {during}"
    elif row is not None and row.seen_at >= claimed_at + LISTED_AFTER and not _holds(row, run.pk, owner["pid"]):
        return (
            f"the process that ran it ({who}) is gone {during}: its worker reported at "
            f"{row.seen_at:%H:%M:%S} that no live process of it holds the run"
        )
    return ""


def _holds(row: WorkerHeartbeat, run_id: int, pid: int) -> bool:
    """Whether the worker's last heartbeat lists the run in a live pool process, this pid or one not
    yet known (a worker from before lists no pids and so always holds what it lists)."""
    return any(task.get("run_id") == run_id and task.get("pid") in (pid, None) for task in row.running or [])


def _running(pid: int, started: float) -> bool:
    """A live process with this pid that is the same process (same start time), not a reuse."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - started) < 1
    except psutil.NoSuchProcess:
        return False
