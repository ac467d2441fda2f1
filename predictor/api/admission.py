"""What every prediction protocol does around the one predict function, encoded by none of them:
who may ask (API key and rate limit), whether there is a model to answer, one large body at a time,
and which headers an answer carries. Each adapter (predictor/api/views.py's JSON API, MLflow's
scoring protocol in predictor/api/mlflow_protocol.py) encodes a `Refusal` in its own error shape.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from predictor.api import apikeys
from predictor.api.predict import Outcome
from predictor.serving.holder import ServedModel

# One large body at a time per process: parsing, checking and answering a 10,000-row batch takes
# tens of MiB, and the worker's threads doing it at once raised its RSS by their sum, which the
# allocator then kept (bench/web_memory.py). Small requests never wait for it.
LARGE_BODY = 256 * 1024
_large_bodies = threading.Lock()
# Up to this many rows, X-Prediction-Id lists every id (comma-separated, in row order); past it
# the header is left out (proxies refuse headers of more than a few KB).
HEADER_IDS = 100
# What a prediction endpoint answers (503) before the first deployment.
NO_MODEL = "no model is deployed yet: deploy one (the pipeline's first run does)"


@dataclass(frozen=True)
class Refusal:
    """A request turned away before it reached the model: its status, why, and extra headers."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def key_of(request: HttpRequest, required: bool) -> tuple[apikeys.KeyInfo | None, Refusal | None]:
    """The request's API key when keys are `required`, or the refusal (401, 429)."""
    if not required:
        return None, None
    given = request.headers.get("X-API-Key") or ""
    auth = request.headers.get("Authorization") or ""
    if not given and auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    if not given:
        return None, Refusal(401, "an API key is required: send it as 'Authorization: Bearer <key>'")
    key = apikeys.authenticate(given)
    if key is None:
        return None, Refusal(401, "the API key is not valid")
    if apikeys.over_limit(key):
        message = f"rate limit of {key.rate_limit} requests per minute passed for this key"
        return key, Refusal(429, message, {"Retry-After": "60"})
    # Its rows are counted once they are known (predict.predict).
    return key, None


def admit(
    request: HttpRequest, models: Any, method: str, no_model: str
) -> tuple[ServedModel, apikeys.KeyInfo | None, None] | tuple[ServedModel | None, None, Refusal]:
    """What every model endpoint checks first, in order: method, API key, a model to answer with.
    The model is read from the holder once here, so the whole request uses that version."""
    served = models.current
    if request.method != method:
        return served, None, Refusal(405, f"method not allowed: use {method}", {"Allow": method})
    key, refusal = key_of(request, settings.API_KEYS_REQUIRED)
    if refusal is not None:
        return served, None, refusal
    if served is None:
        return None, None, Refusal(503, no_model)
    return served, key, None


def one_at_a_time_if_large(request: HttpRequest) -> contextlib.AbstractContextManager[Any]:
    """The large-body lock when the request's body is large (or of unknown size), else nothing."""
    try:
        large = int(request.META.get("CONTENT_LENGTH") or 0) > LARGE_BODY
    except ValueError:
        large = True
    return _large_bodies if large else contextlib.nullcontext()


def answer_headers(outcome: Outcome) -> dict[str, str]:
    """Retry-After when over a limit, and the prediction ids when there are at most HEADER_IDS."""
    headers = {"Retry-After": "60"} if outcome.retry_later else {}
    if outcome.ids and len(outcome.ids) <= HEADER_IDS:
        headers["X-Prediction-Id"] = ",".join(outcome.ids)
    return headers
