"""Which Celery workers are alive, when each was last heard of, and what it is running.

Each worker writes its own row (WorkerHeartbeat) every WORKER_HEARTBEAT_INTERVAL from a thread
of its main process, started by a worker bootstep. A table rather than Celery's own remote
control (`inspect`) or heartbeat events: those broadcast and wait for replies (a second or more
per call, and events need gossip, which the Procfile turns off), while the panel and the API read
this table on every poll in one query, the same on the filesystem broker and on Redis.

The row goes to the database, not through the broker: a worker that lost its broker still beats.
So each heartbeat also says whether the worker's consumer is connected (`consuming`), and only a
live worker that consumes serves a queue.
"""

import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from celery import bootsteps, signals
from celery.bootsteps import RUN
from celery.worker import state
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from retraining.models import RetrainingRun, WorkerHeartbeat
from retraining.runs.setup import TrainingSetup

logger = logging.getLogger(__name__)

# Rows of workers gone for longer than this are dropped when a worker starts.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class WorkerStatus:
    hostname: str
    pid: int
    queues: list[str]
    started_at: datetime
    last_heartbeat: datetime
    # Set when it stopped cleanly (warm shutdown); a killed worker just goes silent.
    stopped_at: datetime | None
    alive: bool
    # The tasks it ran at its last heartbeat: {"task", "id", "run_id" (or None), "started_at", "pid"},
    # only those whose pool process was alive (pid None: not yet started in one).
    running: list[dict[str, Any]]
    # The fingerprint of the training setup its own settings describe ("" for a worker from before).
    setup_fingerprint: str = ""
    # Alive and connected to the broker at its last heartbeat: it takes tasks from its queues.
    consuming: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkerLiveness:
    workers: list[WorkerStatus]
    # The queue retraining runs are sent to, and whether a live worker consumes it.
    retrain_queue: str
    retrain_queue_served: bool
    checked_at: datetime
    alive: int = field(init=False)
    # Live workers connected to their broker.
    consuming: int = field(init=False)
    # Live workers on one queue whose settings describe different training setups; "" when they agree.
    setup_disagreement: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alive", sum(worker.alive for worker in self.workers))
        object.__setattr__(self, "consuming", sum(worker.consuming for worker in self.workers))
        object.__setattr__(self, "setup_disagreement", disagreement(self.workers))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def liveness(now: datetime | None = None) -> WorkerLiveness:
    """Every worker heard of in the last day, newest heartbeat first."""
    now = now or timezone.now()
    fresh = now - timedelta(seconds=settings.WORKER_HEARTBEAT_TIMEOUT)
    workers = []
    for row in WorkerHeartbeat.objects.filter(seen_at__gte=now - FORGET_AFTER).order_by("-seen_at"):
        alive = row.stopped_at is None and row.seen_at >= fresh
        workers.append(
            WorkerStatus(
                hostname=row.hostname,
                pid=row.pid,
                queues=list(row.queues),
                started_at=row.started_at,
                last_heartbeat=row.seen_at,
                stopped_at=row.stopped_at,
                alive=alive,
                running=list(row.running) if alive else [],
                setup_fingerprint=row.setup_fingerprint,
                consuming=alive and row.consuming,
            )
        )
    served = any(worker.consuming and settings.RETRAIN_QUEUE in worker.queues for worker in workers)
    return WorkerLiveness(workers, settings.RETRAIN_QUEUE, served, now)


def disagreement(workers: list[WorkerStatus]) -> str:
    """Which live workers on one queue would train differently: "" when every queue's workers agree.

    A queued run trains the setup it was queued with, whoever executes it; but a run a worker starts
    itself (the schedule) takes that worker's settings, so which one starts it would decide the model.
    """
    queues: dict[str, dict[str, list[str]]] = {}
    for worker in workers:
        if worker.alive and worker.setup_fingerprint:
            for queue in worker.queues:
                queues.setdefault(queue, {}).setdefault(worker.setup_fingerprint, []).append(worker.hostname)
    found = []
    for queue, setups in sorted(queues.items()):
        if len(setups) > 1:
            sides = "; ".join(f"{', '.join(sorted(names))} {key[:12]}" for key, names in sorted(setups.items()))
            found.append(f"workers on queue {queue!r} disagree on the training setup ({sides})")
    if not found:
        return ""
    return "; ".join(found) + ": runs they start themselves (the schedule) train whichever setup their worker has"


def stalled_reason(run: RetrainingRun, workers: WorkerLiveness) -> str:
    """Why a queued run is not moving ("" if it is not stalled): no live worker for its queue."""
    if run.status != RetrainingRun.Status.QUEUED or workers.retrain_queue_served:
        return ""
    waiting = (workers.checked_at - (run.heartbeat_at or run.created_at)).total_seconds()
    if waiting < settings.RUN_STALL_ALERT_AFTER:
        return ""
    last = max((w.last_heartbeat for w in workers.workers if workers.retrain_queue in w.queues), default=None)
    heard = f"last heartbeat {last:%Y-%m-%d %H:%M:%S %Z}" if last else "no worker has ever reported"
    if cut_off := workers.alive - workers.consuming:
        heard += f"; {cut_off} live worker{'' if cut_off == 1 else 's'} cannot reach its broker"
    return (
        f"queued for {waiting:.0f} s and no live worker consumes queue {workers.retrain_queue!r} ({heard}): "
        "start one (`celery -A config worker`); the run goes on when it is back"
    )


def notify_stalled_runs() -> list[int]:
    """Tell the team, once per run, that a queued run waits for a worker that is not there."""
    from retraining.notify import channels

    workers = liveness()
    told = []
    for run in RetrainingRun.objects.filter(status=RetrainingRun.Status.QUEUED, stall_notified_at=None):
        reason = stalled_reason(run, workers)
        if not reason or not RetrainingRun.objects.filter(pk=run.pk, stall_notified_at=None).update(
            stall_notified_at=workers.checked_at
        ):
            continue
        logger.error("run #%s is stalled: %s", run.pk, reason)
        subject = f"[retraining] run #{run.pk} is waiting for a worker"
        channels.send(subject, f"Run #{run.pk} {reason}.\n\n{channels.run_link(run)}")
        told.append(run.pk)
    return told


def _running() -> list[dict[str, Any]]:
    """The tasks this worker's live pool processes hold: what lets a worker on another machine prove a
    run's process is gone (retraining/runs/ownership.py). A task whose process died stays among the
    active requests until the worker gives its message back; it is left out at once."""
    running = []
    for request in list(state.active_requests):
        pid = request.worker_pid
        if pid is not None and not _alive(pid):
            continue
        run_id = request.args[0] if request.name == "retraining.tasks.retrain" and request.args else None
        started = datetime.fromtimestamp(request.time_start, tz=UTC).isoformat() if request.time_start else None
        running.append({"task": request.name, "id": request.id, "run_id": run_id, "started_at": started, "pid": pid})
    return running


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Heartbeat(bootsteps.StartStopStep):
    """Writes this worker's row from a thread, so a long task does not silence it."""

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        self.hostname = worker.hostname
        self.queues = sorted(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.consumer: Any = None
        # Settings do not change while a worker runs: the setup they describe is fingerprinted once.
        self.setup_fingerprint = TrainingSetup.from_settings().fingerprint

    def start(self, worker: Any) -> None:
        self.started_at = timezone.now()
        self.consumer = getattr(worker, "consumer", None)
        WorkerHeartbeat.objects.filter(seen_at__lt=self.started_at - FORGET_AFTER).delete()
        self.beat()
        # The first heartbeat comes before the consumer connects: a worker that says it is ready has
        # already written that it consumes.
        signals.worker_ready.connect(self.on_ready, weak=False, dispatch_uid="worker-heartbeat-ready")
        self.thread = threading.Thread(target=self.loop, name="worker-heartbeat", daemon=True)
        self.thread.start()

    def on_ready(self, **kwargs: Any) -> None:
        self.beat()

    def stop(self, worker: Any) -> None:
        signals.worker_ready.disconnect(dispatch_uid="worker-heartbeat-ready")
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        WorkerHeartbeat.objects.filter(hostname=self.hostname, pid=os.getpid()).update(
            running=[], stopped_at=timezone.now()
        )

    def loop(self) -> None:
        while not self.stopping.wait(settings.WORKER_HEARTBEAT_INTERVAL):
            try:
                self.beat()
            except Exception:
                logger.exception("worker heartbeat not written; trying again")
            finally:
                close_old_connections()
        connection.close()

    def beat(self) -> None:
        WorkerHeartbeat.objects.update_or_create(
            hostname=self.hostname,
            defaults={
                "pid": os.getpid(),
                "queues": self.queues,
                "running": _running(),
                "started_at": self.started_at,
                "seen_at": timezone.now(),
                "stopped_at": None,
                "setup_fingerprint": self.setup_fingerprint,
                "consuming": self.consuming(),
            },
        )

    def consuming(self) -> bool:
        """Whether the consumer is connected to the broker now.

        Celery drops the consumer's connection (sets it to None) as soon as it sees it fail, and sets
        it again only once it reconnected; read from this thread, a reference is read whole.
        """
        consumer = self.consumer
        return consumer is not None and consumer.connection is not None and consumer.blueprint.state == RUN
