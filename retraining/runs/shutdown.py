"""What a Celery worker does when it is told to stop (SIGTERM) in the middle of a run.

Heroku sends SIGTERM to every process of a dyno and SIGKILLs them 30 s later; `docker stop`
sends it to the container's first process. A training can take far longer than that, and a
killed worker would leave its run `running` until the heartbeat sweep notices. So the pool
process running the task stops the run itself:

- during a step the pipeline marks interruptible (check, pull, validate, train, compare), it
  raises `WorkerStopped` where the run is: the pipeline records the run as failed, stopped by the
  signal (nothing was deployed); once the worker has stopped consuming, it queues a new run of
  the same trigger, which the next worker runs from the start;
- during deploy (load, warm up, move the alias, write the row: a few seconds) and after it, the
  stop waits for the step to end, re-checking twice a second: a model is never half deployed;
- never in the middle of a database call, so the connection that records the failure is sound.

The main worker process forwards its SIGTERM to the pool process that runs a retraining task
(Docker only signals the first process); Celery's own warm shutdown then waits for that task,
which now ends within seconds.
"""

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from celery import signals

from retraining.runs.recorder import Recorder, in_database_call

logger = logging.getLogger(__name__)

RUN_TASKS = frozenset({"retraining.tasks.retrain", "retraining.tasks.scheduled_retrain"})
RECHECK_SECONDS = 0.5


class WorkerStopped(Exception):
    """The worker was told to stop while this run was in a step that can be abandoned."""

    def __init__(self, signal_name: str, step: str) -> None:
        super().__init__(
            f"the worker was stopped ({signal_name}) during step {step!r}; nothing was deployed, "
            "and the run is queued again for the next worker"
        )
        self.signal_name = signal_name
        self.step = step


@dataclass
class _State:
    """What this pool process is doing, as far as stopping it is concerned."""

    task: str | None = None
    stop_requested: bool = False
    stopped_run: int | None = None
    previous: dict[int, Any] = field(default_factory=dict)  # the handlers to put back after the task


_state = _State()


def connect() -> None:
    """Wire the handlers to Celery's signals; they only fire inside worker processes."""
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="shutdown-prerun")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="shutdown-postrun")
    signals.worker_shutting_down.connect(_forward_to_running_task, weak=False, dispatch_uid="shutdown-forward")


def where_to_stop(frame: FrameType | None) -> tuple[int | None, str | None]:
    """(run id, step) if the code at `frame` may be abandoned now, else (None, reason to wait).

    The recorder of the run this process works on knows the current step and which steps the
    pipeline lets a stopping worker abandon.
    """
    if in_database_call(frame):
        return None, "inside a database call"
    working = Recorder.current()
    if working is None:
        return None, "no step has started"
    return working.may_stop()


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGTERM and not _state.stop_requested:
        _state.stop_requested = True
        logger.warning("SIGTERM received during %s: stopping the run at the next safe point", _state.task)
    if not _state.stop_requested or _state.stopped_run is not None:
        return
    run_id, step = where_to_stop(frame)
    if run_id is None:
        signal.setitimer(signal.ITIMER_REAL, RECHECK_SECONDS)
        return
    _state.stopped_run = run_id
    raise WorkerStopped("SIGTERM", str(step))


def _in_pool_process() -> bool:
    """Only a prefork pool process runs tasks in its main thread apart from the worker itself."""
    from billiard.process import current_process

    return current_process().name != "MainProcess" and threading.current_thread() is threading.main_thread()


def _task_started(sender: Any = None, **kwargs: Any) -> None:
    """Installed per task: between tasks, billiard's own SIGTERM handling applies."""
    name = getattr(sender, "name", None)
    if name not in RUN_TASKS or not _in_pool_process():
        return
    _state.task, _state.stop_requested, _state.stopped_run = name, False, None
    _state.previous = {sig: signal.signal(sig, _on_stop_signal) for sig in (signal.SIGTERM, signal.SIGALRM)}


def _task_ended(sender: Any = None, **kwargs: Any) -> None:
    if _state.task is None or getattr(sender, "name", None) != _state.task:
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig, handler in _state.previous.items():
        signal.signal(sig, handler)
    _state.task, _state.stopped_run, _state.previous = None, None, {}


def _forward_to_running_task(sig: str = "", **kwargs: Any) -> None:
    """In the main worker process: pass SIGTERM on to the pool process running a retraining task."""
    if sig != "SIGTERM":
        return
    from celery.worker import state

    for request in list(state.active_requests):
        if request.name in RUN_TASKS and request.worker_pid:
            try:
                os.kill(request.worker_pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
