"""Ground truth: the true label of a logged prediction, sent later by the client.

All or nothing per request: every item is checked first, and one bad item rejects the whole
request with each bad item named, so a client fixes its batch and sends it again without
wondering which half went in. Sending a label again for the same prediction replaces it.

A regression model's predictions take a finite number as their true value (a class name, NaN or
infinity is refused, naming the item); which versions are regressions their deployments record.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ml.positive import canonical, normalise
from predictor.models import Deployment, LoggedVersion, Prediction
from predictor.predlog.ids import in_sample, issued_at

MAX_ITEMS = 10_000
# Rows reach the log within about a second; feedback faster than this is told to retry.
WRITE_DELAY = timedelta(seconds=30)


class InvalidFeedback(Exception):
    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def items_of(body: Any) -> list[Any]:
    """The feedback items of a body: one object, or {"feedback": [...]}."""
    if isinstance(body, dict) and "feedback" in body:
        extra = sorted(set(body) - {"feedback"})
        if extra:
            raise InvalidFeedback(f"unknown key(s) beside 'feedback': {', '.join(extra)}")
        items = body["feedback"]
        if not isinstance(items, list):
            raise InvalidFeedback("'feedback' must be a list of {prediction_id, label} objects")
        if not items:
            raise InvalidFeedback("'feedback' is empty: send at least one item")
        if len(items) > MAX_ITEMS:
            raise InvalidFeedback(f"{len(items)} items is more than the limit of {MAX_ITEMS} per request", status=413)
        return items
    if isinstance(body, dict):
        return [body]
    raise InvalidFeedback('the body must be {"prediction_id": ..., "label": ...} or {"feedback": [...]}')


def record_labels(items: list[Any]) -> int:
    """Store the labels of every item, or none; returns how many predictions were labelled."""
    errors: list[dict[str, Any]] = []
    wanted: dict[uuid.UUID, tuple[int, str]] = {}
    for index, item in enumerate(items):
        checked = _shape(index, item)
        if isinstance(checked, dict):
            errors.append(checked)
        else:
            wanted[checked[0]] = (index, checked[1])
    now = timezone.now()
    with transaction.atomic():
        versions = dict(
            Prediction.objects.select_for_update().filter(id__in=list(wanted)).values_list("id", "model_version")
        )
        classes = dict(
            LoggedVersion.objects.filter(version__in=set(versions.values())).values_list("version", "classes")
        )
        regressions = _regressions(set(versions.values()))
        # (label as text, the number a regression's label also is, else None): the ids taking it.
        by_label: dict[tuple[str, float | None], list[uuid.UUID]] = defaultdict(list)
        for pid, (index, label) in wanted.items():
            if pid not in versions:
                errors.append(_error(index, "prediction_id", _unknown(pid, now)))
                continue
            if versions[pid] in regressions:
                value = _number(label)
                if value is None:
                    message = f"{label!r} is not a finite number: model version {versions[pid]} is a regression"
                    errors.append(_error(index, "label", message))
                    continue
                by_label[(canonical(value), value)].append(pid)
                continue
            known = classes.get(versions[pid])
            # 1, 1.0, "1" and true are one class (ml.positive): stored in its canonical form.
            label = canonical(label)
            if known is not None and label not in set(normalise(known)):
                shown = ", ".join(str(c) for c in known)
                message = f"{label!r} is not a class of model version {versions[pid]} (its classes: {shown})"
                errors.append(_error(index, "label", message))
                continue
            by_label[(label, None)].append(pid)
        if errors:
            errors.sort(key=lambda e: e["item"])
            noun = "item is" if len(errors) == 1 else "items are"
            raise InvalidFeedback(f"{len(errors)} feedback {noun} not valid: nothing was recorded", errors)
        for (label, value), ids in by_label.items():
            Prediction.objects.filter(id__in=ids).update(label=label, label_value=value, labelled_at=now)
    return len(wanted)


def _regressions(versions: set[str]) -> set[str]:
    """The versions among these whose deployment records a regression (the pipeline's, or a tag)."""
    if not versions:
        return set()
    deployed = Deployment.objects.filter(model_name=settings.MODEL_NAME, version__in=versions)
    return {
        version for version, data in deployed.values_list("version", "data_version") if data.get("task") == "regression"
    }


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _error(index: int, field: str | None, message: str) -> dict[str, Any]:
    return {"item": index, "field": field, "message": message}


def _shape(index: int, item: Any) -> tuple[uuid.UUID, str] | dict[str, Any]:
    if not isinstance(item, dict):
        return _error(index, None, "must be an object with 'prediction_id' and 'label'")
    extra = sorted(set(item) - {"prediction_id", "label"})
    if extra:
        return _error(index, extra[0], f"unknown field(s): {', '.join(extra)}")
    raw, label = item.get("prediction_id"), item.get("label")
    if not isinstance(raw, str):
        return _error(index, "prediction_id", "required: the prediction_id a prediction response gave")
    try:
        pid = uuid.UUID(raw)
    except ValueError:
        return _error(index, "prediction_id", f"{raw!r} is not a prediction id (a UUID)")
    if isinstance(label, bool) or not isinstance(label, str | int | float) or label == "":
        return _error(index, "label", "required: the true class, as a string (or a number for numeric classes)")
    return pid, str(label)


def _unknown(pid: uuid.UUID, now: Any) -> str:
    """Why a prediction is not in the log, as far as the id itself can tell."""
    share = settings.PREDICTION_LOG_SAMPLE
    made = issued_at(pid)
    if made is not None and share < 1 and not in_sample(pid, share):
        return (
            f"prediction {pid} was not logged: the log keeps a sample of predictions (PREDICTION_LOG_SAMPLE={share}) "
            "and this one is outside it, so it cannot take feedback"
        )
    if made is not None and made < now - timedelta(days=settings.PREDICTION_LOG_DAYS):
        return (
            f"prediction {pid} was made {made:%Y-%m-%d} and has been pruned "
            f"(the log keeps {settings.PREDICTION_LOG_DAYS} days: PREDICTION_LOG_DAYS)"
        )
    if made is not None and made > now - WRITE_DELAY:
        return f"prediction {pid} is not in the log yet (it is written within seconds): send the feedback again shortly"
    return f"no logged prediction has the id {pid}"
