"""The one writer of a run's row while the run is worked on.

The recorder claims a queued run, hands the pipeline its starting state, records each step
(status, detail, timing) and what the step found, beats from a side thread so the stale-run
sweep sees the worker alive, and closes the run. The panel polls the row, so everything is
written as it happens. A worker being stopped asks it which step is running (`position()`).
"""

import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from ml.redact import redact
from retraining.models import RetrainingRun
from retraining.runs import ownership, store
from retraining.runs.runlog import RunLogHandler

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]
Status = RetrainingRun.Status

# The recorder of the run this process is working on, if any (a worker runs one at a time).
_working: "Recorder | None" = None
# Code that must not be interrupted: the run's outcome is recorded over this connection.
_UNSAFE_MODULES = (f"{os.sep}django{os.sep}db{os.sep}", f"{os.sep}psycopg{os.sep}", f"{os.sep}sqlite3{os.sep}")


class RunCancelled(Exception):
    """Someone cancelled the run: raised at the next step boundary, or inside an interruptible step."""


def in_database_call(frame: FrameType | None) -> bool:
    """Whether the code at `frame` (or a caller of it) is inside the database driver or Django's ORM."""
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in _UNSAFE_MODULES):
            return True
        frame = frame.f_back
    return False


class Recorded(Protocol):
    """What the recorder reads of a step's outcome: the pipeline's state, seen from the run row."""

    status: str
    reasons: list[str]
    note: str

    @property
    def ended_early(self) -> bool: ...

    def row_fields(self) -> dict[str, Any]: ...


State = TypeVar("State", bound=Recorded)


class Recorder:
    def __init__(self, run: Any, say: Progress, interruptible: Collection[str] = ()) -> None:
        self.run = run
        # Progress lines quote step details and errors, as the row does: redacted the same way.
        self._progress = say
        # The run's own log while `keeping_log` is on (retraining/runs/runlog.py).
        self.log: RunLogHandler | None = None
        # The steps a stopping worker may abandon: the pipeline names them (retraining/runs/shutdown.py).
        self.interruptible = frozenset(interruptible)
        # A retried run keeps the steps of its earlier attempts.
        self.steps: list[dict[str, Any]] = list(run.steps)
        self.attempts: list[dict[str, Any]] = list(run.attempts)
        self.started_at = timezone.now()
        self.closed = False
        # Once a step that is not interruptible (deploy, keep) began, a cancel comes too late.
        self.committed = False
        # The thread running the steps, and whether a cancel was already raised in it.
        self.thread_id: int | None = None
        self.interrupted = False
        # Where a cancel stopped the run ("before step 'pull'", "during step 'train'").
        self.stopped_where = ""

    def say(self, line: str) -> None:
        """A progress line: to the caller (a command prints it) and into the run's own log."""
        line = redact(line)
        self._progress(line)
        if self.log is not None:
            self.log.handle(
                logging.makeLogRecord(
                    {"name": "retraining.run", "levelno": logging.INFO, "levelname": "INFO", "msg": line}
                )
            )

    @contextmanager
    def keeping_log(self) -> Iterator[None]:
        """Keep what this process logs meanwhile as the run's log, saved on each beat and at the end."""
        self.log = RunLogHandler.for_run(self.run.pk)
        root = logging.getLogger()
        root.addHandler(self.log)
        try:
            yield
        finally:
            root.removeHandler(self.log)
            try:
                self.log.save()
            except Exception:
                logger.warning("could not save the log of run #%s", self.run.pk, exc_info=True)

    @classmethod
    def claim(
        cls, run_id: int, say: Progress | None = None, worker: str = "", interruptible: Collection[str] = ()
    ) -> "Recorder | None":
        """The recorder of a run just moved from queued to running; None if it was not queued.

        `worker` names the Celery worker this process belongs to ("" outside a worker).
        """
        if not store.claim(run_id, ownership.here(worker)):
            return None
        run = RetrainingRun.objects.select_related("triggered_by").get(pk=run_id)
        return cls(run, say or (lambda line: None), interruptible)

    @staticmethod
    def current() -> "Recorder | None":
        """The recorder of the run this process is working on now, if any."""
        return _working

    def position(self) -> tuple[int, str, str] | None:
        """(run id, step, its status) of the step started last; None before the first one."""
        if not self.steps:
            return None
        step = self.steps[-1]
        return self.run.pk, str(step.get("name")), str(step.get("status"))

    def may_stop(self) -> tuple[int | None, str]:
        """(run id, step) when a stopping worker may abandon the run now, else (None, why not)."""
        position = self.position()
        if position is None:
            return None, "no step has started"
        run_id, step, status = position
        if status != "running" or step not in self.interruptible:
            return None, f"step {step!r} is {status}"
        return run_id, step

    def cancel_requested(self) -> bool:
        return RetrainingRun.objects.filter(pk=self.run.pk).exclude(cancel_requested_at=None).exists()

    def cancelled(self) -> str:
        """Who cancelled the run and when, for its reasons."""
        row = RetrainingRun.objects.get(pk=self.run.pk)
        when = f"{timezone.localtime(row.cancel_requested_at):%Y-%m-%d %H:%M:%S %Z}" if row.cancel_requested_at else "?"
        where = self.stopped_where or (f"during step {self.steps[-1]['name']!r}" if self.steps else "before any step")
        return f"cancelled by {row.cancelled_by or 'unknown'} at {when}, {where}; nothing was deployed"

    def step(self, name: str, work: Callable[[State], State], state: State) -> State:
        """Run one step on `state` and record it, with what it found, on the row.

        A cancelled run stops here, before the step, unless a step that changes the champion began.
        """
        if not self.closed and not self.committed and self.cancel_requested():
            self.stopped_where = f"before step {name!r}"
            raise RunCancelled()
        if not self.closed and name not in self.interruptible:
            self.committed = True
        entry: dict[str, Any] = {"name": name, "status": "running", "started_at": timezone.now().isoformat()}
        self.steps.append(entry)
        self._update(step=name, steps=self.steps, heartbeat_at=timezone.now())
        started = time.perf_counter()
        found: dict[str, Any] = {}
        ended_before = state.ended_early
        try:
            state = work(state)
        except RunCancelled:
            entry["status"] = "cancelled"
            self.stopped_where = f"during step {name!r}"
            raise
        except Exception as exc:
            entry["status"] = "failed"
            entry["detail"] = f"{type(exc).__name__}: {exc}"
            raise
        else:
            stopped = state.ended_early and not ended_before  # this step ended the run
            entry["status"] = "stopped" if stopped else "done"
            detail = state.note or ("; ".join(state.reasons) if stopped else "")
            if detail:
                entry["detail"] = detail
            found = state.row_fields()
        finally:
            entry["duration"] = round(time.perf_counter() - started, 3)
            # A step after the run was closed (notify) leaves no current step behind.
            self._update(steps=self.steps, **found, **({"step": ""} if self.closed else {}))
            self.say(f"[{entry['status']:>7}] {name:<9} {entry['duration']:7.2f}s  {entry.get('detail', '')}")
        return state

    def finish(self, state: Recorded, error: str = "", stopped_by_signal: str = "") -> bool:
        """Close the run once; False if something else (the stale-run sweep) closed it first."""
        status = Status.FAILED if error else state.status
        self._attempt(status, error)
        fields = {**state.row_fields(), "steps": self.steps, "attempts": self.attempts, "waiting": ""}
        if error:
            fields |= {"error": error, "stopped_by_signal": stopped_by_signal}
        self.closed = True
        return store.finish(self.run, status, **fields)

    def requeue(self, waiting: str, error: str) -> bool:
        """Back to the queue after a transient fault; the task schedules the next attempt.

        The step that met the fault says what the run waits for, where the panel shows it. False
        (nothing changed) when the run was cancelled meanwhile: it is never queued again.
        """
        if not store.requeue(self.run.pk, waiting):
            return False
        if self.steps and self.steps[-1]["status"] == "failed":
            self.steps[-1] |= {"status": "waiting", "detail": waiting}
        self._attempt("transient fault", error)
        self._update(steps=self.steps, attempts=self.attempts)
        self.say(f"run #{self.run.pk}: {waiting}")
        return True

    def _attempt(self, outcome: str, error: str) -> None:
        entry = {"attempt": len(self.attempts) + 1, "started_at": self.started_at.isoformat()}
        entry |= {"ended_at": timezone.now().isoformat(), "outcome": outcome}
        self.attempts.append(entry | ({"error": error} if error else {}))

    def row(self) -> RetrainingRun:
        return RetrainingRun.objects.get(pk=self.run.pk)

    @contextmanager
    def working(self) -> Iterator[None]:
        """This process works on this run: its heartbeat runs, and shutdown can ask where it is."""
        global _working
        _working = self
        self.thread_id = threading.get_ident()
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(stop,), name=f"heartbeat-{self.run.pk}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            _working = None
            self.thread_id = None
            stop.set()
            thread.join(timeout=5)

    def _beat(self, stop: threading.Event) -> None:
        """Beat from a side thread so a long fit still shows the worker is alive, and stop a
        cancelled run inside an interruptible step rather than waiting for the step to end."""
        while not stop.wait(settings.RUN_HEARTBEAT_INTERVAL):
            try:
                if store.heartbeat(self.run.pk):
                    self._interrupt()
                if self.log is not None:
                    self.log.save()
            except Exception:
                logger.warning("heartbeat for run #%s failed", self.run.pk, exc_info=True)
            finally:
                close_old_connections()

    def _interrupt(self) -> None:
        """Raise `RunCancelled` in the thread running the steps, if it is in an interruptible step
        and not inside a database call; else the next beat (or the next step boundary) tries again.

        The exception is raised when that thread next runs Python code: a fit in C is left at its
        next return to Python (between an ensemble's estimators, for instance).
        """
        thread_id = self.thread_id
        if self.interrupted or thread_id is None or self.may_stop()[0] is None:
            return
        if in_database_call(sys._current_frames().get(thread_id)):
            return
        self.interrupted = True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(RunCancelled))
        logger.warning("run #%s cancelled: interrupting step %r", self.run.pk, self.steps[-1]["name"])

    def _update(self, **fields: Any) -> None:
        RetrainingRun.objects.filter(pk=self.run.pk).update(**fields)
