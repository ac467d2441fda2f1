"""The one predict function every prediction protocol adapts: check, infer, log, answer.

Contract of `predict(body, served, models, key)`:

- `body` is the request already decoded, protocol-neutral: a dict in one of `inputs.FORMATS`
  (`instances`, `dataframe_split`, `dataframe_records`), holding plain JSON values; or, for a
  protocol whose body is already in columns (V2's inputs, MLflow's `inputs` as columns), an
  `inputs.Columns` of one list of plain values per column, in the order sent. Both are checked
  by the same rules, so a refusal names the same rows and fields whatever the shape, and columns
  are never turned into rows. Reading the transport (method, headers, content type, JSON or
  another encoding) is the adapter's job; an adapter for another protocol turns its own body
  into one of these shapes first.
- `served` is the model read once from `models` (the holder) for this request, so a swap during
  the request never mixes two versions; `key` is the client's API key once the adapter has
  authenticated it and counted the request (None when keys are off).
- The result is an `Outcome`: a status with HTTP's meaning (200, 400, 413, 429, 503), the answer
  or the error as a dict of plain values and numpy arrays, the prediction ids, and whether the
  client should retry after a minute. Nothing is encoded: the adapter encodes the body and maps
  the rest onto its protocol (/api/v1/predict: JSON, X-Prediction-Id, Retry-After).
- It never raises for a client's mistake or a model's failure: each is an `Outcome` whose body
  is `{"error": ..., "errors"?: [...]}`. Every answered prediction is counted for the served
  version and handed to the prediction log (when PREDICTION_LOG_SAMPLE > 0), keyed by `key`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from predictor import predlog
from predictor.api import apikeys, inputs
from predictor.serving.holder import ModelHolder, ServedModel

logger = logging.getLogger(__name__)

# One prediction at a time per process. The work is CPU-bound under the GIL, so threads cannot
# run two at once anyway; without the lock they hand the GIL back and forth at every tree
# (scikit-learn's tree walk releases it): measured with 4 threads and 8 connections, 286
# requests/s against 515 with the lock. Threads still read, parse and answer concurrently.
_model_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """What one prediction request came to, before any protocol encodes it."""

    status: int
    body: dict[str, Any]
    ids: list[str] = field(default_factory=list)
    # The client is over a per-minute limit and may try again in a minute.
    retry_later: bool = False


def predict(body: Any, served: ServedModel, models: ModelHolder, key: apikeys.KeyInfo | None) -> Outcome:
    """Check `body` against `served`'s input schema, predict, log and build the answer."""
    if key is not None and apikeys.over_row_limit(key, inputs.sent_rows(body)):
        message = f"row limit of {key.row_limit} rows per minute passed for this key: send fewer rows"
        return Outcome(429, {"error": message}, retry_later=True)
    try:
        checked = inputs.check(
            body,
            served.schema,
            served.category_sets,
            settings.PREDICT_MAX_ROWS,
            ignored=served.ignored,
            dates=served.dates,
        )
    except inputs.InvalidInput as exc:
        return Outcome(exc.status, exc.as_dict())
    try:
        with _model_lock:
            answer = _infer(served, checked)
    except Exception as exc:
        models.count(served, failed=True)
        message = f"model version {served.version} failed on this input: {type(exc).__name__}: {exc}"
        return Outcome(503, {"error": message})
    models.count(served, failed=False)
    ids = predlog.new_ids(len(answer["predictions"]))
    if settings.PREDICTION_LOG_SAMPLE > 0:
        key_id = key.pk if key else None
        predlog.record(ids, served, checked.columns, answer["predictions"], answer.get("probabilities"), key_id)
    answer["prediction_ids"] = ids
    answer["model"] = {"name": served.name, "version": served.version, "run_id": served.run_id}
    if checked.warnings:
        answer["warnings"] = checked.warnings
    return Outcome(200, answer, ids)


def _through(served: ServedModel, checked: inputs.Checked, method: str) -> Any:
    """`method` of the compiled model when the version was checked exact at load, else the model's own."""
    if served.compiled is not None:
        try:
            return getattr(served.compiled, method)(checked.columns)
        except Exception:
            # Never the model's failure: answer through the model itself, which decides.
            logger.exception("serving: compiled inference of version %s failed; using the model", served.version)
    return getattr(served.model, method)(checked.frame)


def _infer(served: ServedModel, checked: inputs.Checked) -> dict[str, Any]:
    """One pass over the model: the labels are the most probable classes, as the classifiers'
    own predict() computes them, so predict_proba is not run twice."""
    if served.classes is None:
        # A regressor's numbers (or a model without probabilities).
        return {"predictions": np.asarray(_through(served, checked, "predict")).tolist()}
    # C order: the JSON encoder and the prediction log refuse another (HistGradientBoosting gives F).
    probabilities = np.ascontiguousarray(_through(served, checked, "predict_proba"), dtype=np.float64)
    return {
        "predictions": served.classes[probabilities.argmax(axis=1)].tolist(),
        "classes": served.classes.tolist(),
        "probabilities": probabilities,
    }
