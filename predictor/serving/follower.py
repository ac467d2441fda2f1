"""The thread that keeps a serving process on the active deployment, without a restart.

Every MODEL_POLL_INTERVAL seconds it has three duties, in this order:

1. every REGISTRY_SYNC_INTERVAL, record a move of the MLflow `champion` alias made by hand
   (watch.record_alias_move), so every process follows it;
2. serve the newest deployment (ModelHolder.sync);
3. roll back a fresh deployment that fails in serving (watch.rollback_if_failing).

It reports what the process serves (its ServingProcess row) after a change and every few
seconds. These duties run here rather than in a Celery beat task: the serving processes are the
ones that see a failure first-hand, and a rollback must not wait for (or depend on) a broker and
a worker being up. gunicorn starts it in each worker (config/gunicorn.py).
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from predictor.serving import guard
from predictor.serving.holder import holder

logger = logging.getLogger(__name__)


class Follower:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()
        self._last_alias_check = 0.0

    def start(self) -> None:
        """Start following in this process (after a fork, again in the child)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            self._pid = os.getpid()
            threading.Thread(target=self._follow, name="model-follower", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._pid = None

    def tick(self) -> None:
        """One round of the duties above."""
        models = holder()
        if time.monotonic() - self._last_alias_check >= settings.REGISTRY_SYNC_INTERVAL:
            self._last_alias_check = time.monotonic()
            guard.record_alias_move()
        changed = models.sync()
        if guard.rollback_if_failing(models):
            models.sync()
        if changed or models.error:
            models.report()

    def _follow(self) -> None:
        stop = self._stop
        last_report = 0.0
        while not stop.is_set():
            try:
                close_old_connections()
                self.tick()
                if time.monotonic() - last_report > max(5.0, settings.MODEL_POLL_INTERVAL):
                    holder().report()
                    last_report = time.monotonic()
            except Exception:
                logger.exception("serving: checking the active deployment failed; still serving the old model")
            stop.wait(settings.MODEL_POLL_INTERVAL)


_follower = Follower()


def follower() -> Follower:
    return _follower
