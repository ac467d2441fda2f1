"""The model this process serves, and how it is swapped for the active deployment's.

`ModelHolder.sync` checks (one indexed query) whether the newest Deployment changed. A new
version is loaded off to the side and warmed with a test prediction; only then is the reference
swapped, in one assignment. A request reads the reference once, so it finishes on the model it
started with. A version that fails to load or to predict its own input example is never swapped
in: the process keeps the old one and says so in /readyz and in its ServingProcess row.
The thread that calls `sync` every MODEL_POLL_INTERVAL seconds is predictor/serving/follower.py.
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
from django.utils import timezone
from sklearn.base import is_regressor

from ml.contract import known_categories
from predictor.api.inputs import Column, schema_of
from predictor.models import Deployment, ServingProcess
from predictor.serving import inference, registry

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
    # "regression" for a regressor (numbers answered, no classes), else "classification".
    task: str = "classification"
    # The model's arithmetic without scikit-learn's per-call overhead (predictor/serving/inference.py);
    # None when the model is served through its own predict_proba, for the reason in `inference`.
    compiled: inference.Compiled | None = None
    inference: str = ""
    counters: Counters = field(default_factory=Counters)
    # Columns of a whole record the model does not use (ids, exclusions): accepted and ignored.
    ignored: frozenset[str] = frozenset()
    # Datetime columns a client sends as dates, read as the parts the model was trained on.
    dates: dict[str, bool] = field(default_factory=dict)

    @property
    def serving(self) -> str:
        """ "compiled" when the pipeline is served from its arrays, "model" through its own methods."""
        return "compiled" if self.compiled is not None else "model"


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
        task="regression" if is_regressor(loaded.model) else "classification",
        ignored=frozenset(loaded.ignored),
        dates=dict(loaded.dates),
    )


def compile_checked(
    model: Any, example: Any, categories: dict[str, list[str]]
) -> tuple[inference.Compiled | None, str]:
    """(compiled model, how it is served): compiled only if it gives exactly the model's own
    probabilities (a regressor's own predictions) on the input example and on probe rows."""
    method = "predict_proba" if hasattr(model, "predict_proba") else "predict"
    if not settings.COMPILED_INFERENCE:
        return None, f"the model's own {method} (COMPILED_INFERENCE is off)"
    if not hasattr(example, "columns") or not (method == "predict_proba" or is_regressor(model)):
        return None, "the model's own predict (no predict_proba or no input example to check against)"
    try:
        compiled = inference.compile_model(model)
        inference.verify(compiled, model, inference.probe_rows(example, categories))
    except inference.NotCompiled as exc:
        logger.info("serving: using the model's own %s: %s", method, exc)
        return None, f"the model's own {method}: {exc}"
    except Exception as exc:
        logger.warning("serving: could not compile the model, using its own %s: %r", method, exc)
        return None, f"the model's own {method}: compiling failed ({type(exc).__name__}: {exc})"
    return compiled, f"compiled: the pipeline's arithmetic from its arrays, checked equal to its own {method}"


class ModelHolder:
    """What one process serves, and why it serves no newer version if one failed to load.

    Readers take `current` once per request; only `serve` (and `sync`, through it) changes it.
    """

    def __init__(self) -> None:
        self._current: ServedModel | None = None
        self._error = ""
        self._failed_deployment_id: int | None = None
        self._failed_version = ""
        self._predictions = 0
        self._failures = 0
        self._lock = threading.Lock()
        self.started_at = timezone.now()

    @property
    def current(self) -> ServedModel | None:
        return self._current

    @property
    def error(self) -> str:
        """Why the newest deployment is not served here ("" when it is)."""
        return self._error

    @property
    def failed_deployment_id(self) -> int | None:
        return self._failed_deployment_id

    @property
    def process_name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def sync(self) -> bool:
        """Serve the newest deployment if it is not served yet; True when the model changed."""
        newest = Deployment.objects.order_by("-id").values("id", "version", "model_name", "run_id").first()
        if newest is None:
            return False
        current = self._current
        if current is not None and current.deployment_id == newest["id"]:
            return False
        if current is not None and current.version == newest["version"] and current.name == newest["model_name"]:
            # Same version under a new deployment row (a rollback to what is already served).
            self.serve(replace(current, deployment_id=newest["id"], counters=Counters()))
            return False
        if self._failed_deployment_id == newest["id"]:
            return False
        with self._lock:
            return self._load(newest)

    def serve(self, served: ServedModel) -> None:
        """Swap in a model already loaded and warmed: one assignment, so a request in flight
        keeps the model it started with."""
        self._current = served
        self._error = ""
        self._failed_version = ""
        self._failed_deployment_id = None

    def _load(self, newest: dict[str, Any]) -> bool:
        started = time.perf_counter()
        try:
            loaded = registry.load_version(newest["version"])
            warm_up(loaded.model, loaded.input_example)
        except Exception as exc:
            self._failed_deployment_id = newest["id"]
            self._failed_version = newest["version"]
            self._error = f"version {newest['version']} was not swapped in: {exc}"
            logger.error("serving: %s", self._error)
            return False
        self.serve(served_model(newest, loaded))
        logger.info(
            "serving: now serving %s v%s (loaded in %.2fs)",
            newest["model_name"],
            loaded.version,
            time.perf_counter() - started,
        )
        return True

    def count(self, served: ServedModel, failed: bool) -> None:
        """One answered prediction request; a failure is one the model itself raised on."""
        served.counters.predictions += 1
        self._predictions += 1
        if failed:
            served.counters.failures += 1
            self._failures += 1

    def report(self) -> None:
        """Tell staff what this process serves (one small upsert)."""
        current = self._current
        ServingProcess.objects.update_or_create(
            name=self.process_name,
            defaults={
                "version": current.version if current else "",
                "deployment_id": current.deployment_id if current else None,
                "error": self._error,
                "failed_version": self._failed_version,
                "predictions": self._predictions,
                "failures": self._failures,
                "started_at": self.started_at,
                "seen_at": timezone.now(),
            },
        )


def warm_up(model: Any, example: Any) -> None:
    """A test prediction: a version that cannot predict its own input example is not served."""
    if example is None:
        raise ValueError("the model has no input example to test it with")
    model.predict_proba(example) if hasattr(model, "predict_proba") else model.predict(example)


_holder = ModelHolder()


def holder() -> ModelHolder:
    return _holder
