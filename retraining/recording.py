"""Recording a run as it happens: each step's status, detail and timing, and a heartbeat.

The panel polls the run row, and the stale-run sweep reads the heartbeat, so both are written
to the database while the run is still going.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from retraining import runs
from retraining.models import RetrainingRun

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


class Stop(Exception):
    """A run that ends early on purpose (skipped, rejected), not a failure."""

    def __init__(self, status: str, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


class Recorder:
    """Records each step's status and timing on the run row as it happens (the panel polls it)."""

    def __init__(self, run: RetrainingRun, say: Progress) -> None:
        self.run = run
        self.say = say
        # A retried run keeps the steps of its earlier attempts.
        self.steps: list[dict[str, Any]] = list(run.steps)

    @contextmanager
    def step(self, name: str) -> Iterator[Callable[[str], None]]:
        entry: dict[str, Any] = {"name": name, "status": "running", "started_at": timezone.now().isoformat()}
        self.steps.append(entry)
        RetrainingRun.objects.filter(pk=self.run.pk).update(step=name, steps=self.steps, heartbeat_at=timezone.now())
        started = time.perf_counter()

        def note(text: str) -> None:
            entry["detail"] = text

        try:
            yield note
        except Stop as stop:
            entry["status"] = "stopped"
            entry.setdefault("detail", "; ".join(stop.reasons))
            raise
        except Exception as exc:
            entry["status"] = "failed"
            entry["detail"] = f"{type(exc).__name__}: {exc}"
            raise
        else:
            entry["status"] = "done"
        finally:
            entry["duration"] = round(time.perf_counter() - started, 3)
            RetrainingRun.objects.filter(pk=self.run.pk).update(steps=self.steps)
            self.say(f"[{entry['status']:>7}] {name:<9} {entry['duration']:7.2f}s  {entry.get('detail', '')}")


@contextmanager
def heartbeat(run_id: int) -> Iterator[None]:
    """Beat from a side thread so a long fit still shows the worker is alive."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.RUN_HEARTBEAT_INTERVAL):
            try:
                runs.beat(run_id)
            except Exception:
                logger.warning("heartbeat for run #%s failed", run_id, exc_info=True)
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
