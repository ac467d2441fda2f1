"""The model this process serves, and how it follows the active deployment without a restart.

A background thread checks (one indexed query every MODEL_POLL_INTERVAL seconds) whether the
newest Deployment changed. A new version is loaded off to the side and warmed with a test
prediction; only then is the reference swapped, in one assignment. A request reads the
reference once, so it finishes on the model it started with. A version that fails to load or to
predict its own input example is never swapped in: the process keeps the old one, says so in
/readyz and in its ServingProcess row, and (inside the bake window) rolls the deployment back.

The same thread also keeps the database in step with the MLflow `champion` alias (a person may
move it by hand) and watches the share of failed predictions of a fresh deployment. Both run
here rather than in a Celery beat task: the serving processes are the ones that see a failure
first-hand, and a rollback must not wait for (or depend on) a broker and a worker being up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from predictor import inference, registry, watch
from predictor.contract import known_categories
from predictor.inputs import Column, schema_of
from predictor.models import Deployment, ServingProcess

logger = logging.getLogger(__name__)


@dataclass
class Counters:
    """Requests answered by one served model in this process (a swap starts a new count)."""

    predictions: int = 0
    failures: int = 0


@dataclass(frozen=True)
class ServedModel:
    deployment_id: int
    name: str
    version: str
    run_id: str
    model: Any
    columns: list[dict[str, Any]]
    input_example: Any
    schema: list[Column] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    category_sets: dict[str, set[str]] = field(default_factory=dict)
    classes: np.ndarray | None = None
    # The model's arithmetic without scikit-learn's per-call overhead (predictor/inference.py);
    # None when the model is served through its own predict_proba, for the reason in `inference`.
    compiled: inference.Compiled | None = None
    inference: str = ""
    counters: Counters = field(default_factory=Counters)
    loaded_at: float = field(default_factory=time.time)


def served_model(deployment: dict[str, Any], loaded: registry.LoadedVersion) -> ServedModel:
    categories = known_categories(loaded.model)
    classes = getattr(loaded.model, "classes_", None)
    compiled, how = compile_checked(loaded.model, loaded.input_example, categories)
    return ServedModel(
        deployment_id=deployment["id"],
        name=deployment["model_name"],
        version=loaded.version,
        run_id=deployment["run_id"],
        model=loaded.model,
        columns=loaded.columns,
        input_example=loaded.input_example,
        schema=schema_of(loaded.columns),
        categories=categories,
        category_sets={name: set(values) for name, values in categories.items()},
        classes=np.asarray(classes) if classes is not None and hasattr(loaded.model, "predict_proba") else None,
        compiled=compiled,
        inference=how,
    )


def compile_checked(
    model: Any, example: Any, categories: dict[str, list[str]]
) -> tuple[inference.Compiled | None, str]:
    """(compiled model, how it is served): compiled only if it gives exactly the model's own
    probabilities on the input example and on probe rows."""
    if not settings.COMPILED_INFERENCE:
        return None, "the model's own predict_proba (COMPILED_INFERENCE is off)"
    if not hasattr(model, "predict_proba") or not hasattr(example, "columns"):
        return None, "the model's own predict (no predict_proba or no input example to check against)"
    try:
        compiled = inference.compile_model(model)
        inference.verify(compiled, model, inference.probe_rows(example, categories))
    except inference.NotCompiled as exc:
        logger.info("serving: using the model's own predict_proba: %s", exc)
        return None, f"the model's own predict_proba: {exc}"
    except Exception as exc:
        logger.warning("serving: could not compile the model, using its own predict_proba: %r", exc)
        return None, f"the model's own predict_proba: compiling failed ({type(exc).__name__}: {exc})"
    return compiled, "compiled: the pipeline's arithmetic from its arrays, checked equal to its own predict_proba"


class ModelHolder:
    def __init__(self) -> None:
        self.current: ServedModel | None = None
        self.error = ""
        self.failed_deployment_id: int | None = None
        self.failed_version = ""
        self.predictions = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._stop = threading.Event()
        self._last_alias_check = 0.0
        self.started_at = timezone.now()
        # Tests drive sync() themselves and switch the background thread off.
        self.autostart = True

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
        if current is not None and current.version == newest["version"] and current.name == newest["model_name"]:
            # Same version under a new deployment row (a rollback to what is already served).
            self.current = replace(current, deployment_id=newest["id"], counters=Counters())
            self._clear_failure()
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
            self.failed_version = newest["version"]
            self.error = f"version {newest['version']} was not swapped in: {exc}"
            logger.error("serving: %s", self.error)
            return False
        self.current = served_model(newest, loaded)
        self._clear_failure()
        logger.info(
            "serving: now serving %s v%s (loaded in %.2fs)",
            newest["model_name"],
            loaded.version,
            time.perf_counter() - started,
        )
        return True

    def _clear_failure(self) -> None:
        self.error = ""
        self.failed_version = ""
        self.failed_deployment_id = None

    def count(self, served: ServedModel, failed: bool) -> None:
        """One answered prediction request; a failure is one the model itself raised on."""
        served.counters.predictions += 1
        self.predictions += 1
        if failed:
            served.counters.failures += 1
            self.failures += 1

    def report(self) -> None:
        """Tell staff what this process serves (one small upsert)."""
        current = self.current
        ServingProcess.objects.update_or_create(
            name=self.process_name,
            defaults={
                "version": current.version if current else "",
                "deployment_id": current.deployment_id if current else None,
                "error": self.error,
                "failed_version": self.failed_version,
                "predictions": self.predictions,
                "failures": self.failures,
                "started_at": self.started_at,
                "seen_at": timezone.now(),
            },
        )

    def ensure_started(self) -> None:
        """Start the follower thread in this process (after a fork, again in the child)."""
        if self._thread_pid == os.getpid() or not self.autostart:
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

    def tick(self) -> None:
        """One round of the follower: registry alias, newest deployment, health of a fresh one."""
        if time.monotonic() - self._last_alias_check >= settings.REGISTRY_SYNC_INTERVAL:
            self._last_alias_check = time.monotonic()
            watch.record_alias_move()
        changed = self.sync()
        if watch.rollback_if_failing(self):
            self.sync()
        if changed or self.error:
            self.report()

    def _follow(self) -> None:
        last_report = 0.0
        while not self._stop.is_set():
            try:
                close_old_connections()
                self.tick()
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
