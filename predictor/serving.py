"""The model this process serves, and how it follows the active deployment without a restart.

A background thread checks (one indexed query every MODEL_POLL_INTERVAL seconds) whether the
newest Deployment changed. A new version is loaded off to the side and warmed with a test
prediction; only then is the reference swapped, in one assignment. A request reads the
reference once, so it finishes on the model it started with. A version that fails to load is
never swapped in: the process keeps the old one and reports the failure.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from predictor import registry
from predictor.models import Deployment, ServingProcess

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    deployment_id: int
    name: str
    version: str
    run_id: str
    model: Any
    columns: list[dict[str, Any]]
    input_example: Any
    loaded_at: float = field(default_factory=time.time)


class ModelHolder:
    def __init__(self) -> None:
        self.current: ServedModel | None = None
        self.error = ""
        self.failed_deployment_id: int | None = None
        self.predictions = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._stop = threading.Event()
        self.started_at = timezone.now()

    @property
    def process_name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def sync(self) -> bool:
        """Serve the newest deployment if it is not served yet; True when the model changed."""
        newest = Deployment.objects.order_by("-id").values("id", "version", "model_name", "run_id").first()
        if newest is None:
            return False
        current = self.current
        if current is not None and current.deployment_id == newest["id"]:
            return False
        if current is not None and current.version == newest["version"]:
            # Same version under a new deployment row (a rollback to what is already served).
            self.current = ServedModel(**{**current.__dict__, "deployment_id": newest["id"]})
            return False
        if self.failed_deployment_id == newest["id"]:
            return False
        with self._lock:
            return self._load(newest)

    def _load(self, newest: dict[str, Any]) -> bool:
        started = time.perf_counter()
        try:
            loaded = registry.load_version(newest["version"])
            warm_up(loaded.model, loaded.input_example)
        except Exception as exc:
            self.failed_deployment_id = newest["id"]
            self.error = f"version {newest['version']} was not swapped in: {exc}"
            logger.error("serving: %s", self.error)
            return False
        self.current = ServedModel(
            deployment_id=newest["id"],
            name=newest["model_name"],
            version=loaded.version,
            run_id=newest["run_id"],
            model=loaded.model,
            columns=loaded.columns,
            input_example=loaded.input_example,
        )
        self.error = ""
        self.failed_deployment_id = None
        logger.info(
            "serving: now serving %s v%s (loaded in %.2fs)",
            newest["model_name"],
            loaded.version,
            time.perf_counter() - started,
        )
        return True

    def report(self) -> None:
        """Tell staff what this process serves (one small upsert)."""
        now = timezone.now()
        current = self.current
        ServingProcess.objects.update_or_create(
            name=self.process_name,
            defaults={
                "version": current.version if current else "",
                "deployment_id": current.deployment_id if current else None,
                "error": self.error,
                "failed_version": "",
                "predictions": self.predictions,
                "failures": self.failures,
                "started_at": self.started_at,
                "seen_at": now,
            },
        )

    def ensure_started(self) -> None:
        """Start the follower thread in this process (after a fork, again in the child)."""
        if self._thread_pid == os.getpid():
            return
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._follow, name="model-follower", daemon=True)
            self._thread_pid = os.getpid()
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _follow(self) -> None:
        last_report = 0.0
        while not self._stop.is_set():
            try:
                close_old_connections()
                self.sync()
                if time.monotonic() - last_report > max(5.0, settings.MODEL_POLL_INTERVAL):
                    self.report()
                    last_report = time.monotonic()
            except Exception:
                logger.exception("serving: checking the active deployment failed; still serving the old model")
            self._stop.wait(settings.MODEL_POLL_INTERVAL)


def warm_up(model: Any, example: Any) -> None:
    """A test prediction: a version that cannot predict its own input example is not served."""
    if example is None:
        raise ValueError("the model has no input example to test it with")
    model.predict_proba(example) if hasattr(model, "predict_proba") else model.predict(example)


_holder = ModelHolder()


def holder() -> ModelHolder:
    return _holder
