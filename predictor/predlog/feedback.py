"""Ground truth: the true label of a logged prediction, sent later by the client.

All or nothing per request: every item is checked first, and one bad item rejects the whole
request with each bad item named, so a client fixes its batch and sends it again without
wondering which half went in. Sending a label again for the same prediction replaces it; every
label given is kept with who gave it (labels.py). With keys, a key labels only its own predictions.
A label for a prediction not written yet (a recent id of ours, in the sample) is held (held.py).

A regression model's predictions take a finite number as their true value (a class name, NaN or
infinity is refused, naming the item); which versions are regressions their deployments record.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from predictor.predlog import held
from predictor.predlog.ids import in_sample, issued_at
from predictor.predlog.labels import Change, Labeller, Versions, locked, owner_refusal, store
from predictor.refusal import BadRequest

MAX_ITEMS = 10_000
# Who labels when the caller does not say (code calling record_labels directly).
ANYONE = Labeller("code")


class InvalidFeedback(BadRequest):
    """The feedback cannot be recorded; `errors` names each bad item."""


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


def record_labels(items: list[Any], by: Labeller = ANYONE) -> tuple[int, int]:
    """Store the labels of every item, or none: (how many predictions were labelled, how many
    labels were held for predictions not written yet)."""
    errors: list[dict[str, Any]] = []
    wanted: dict[uuid.UUID, tuple[int, str]] = {}
    for index, item in enumerate(items):
        checked = _shape(index, item)
        if isinstance(checked, dict):
            errors.append(checked)
        else:
            wanted[checked[0]] = (index, checked[1])
    now = timezone.now()
    early: dict[uuid.UUID, str] = {}
    forbidden = 0
    with transaction.atomic():
        rows = locked(list(wanted))
        versions = Versions({version for version, _, _ in rows.values()})
        changes: list[Change] = []
        for pid, (index, label) in wanted.items():
            if pid not in rows:
                if _not_written_yet(pid, now):
                    early[pid] = label
                else:
                    errors.append(_error(index, "prediction_id", _unknown(pid, now)))
                continue
            version, old, owner = rows[pid]
            refusal = owner_refusal(pid, owner, by)
            if refusal is not None:
                forbidden += 1
                errors.append(_error(index, "prediction_id", refusal))
                continue
            verdict = versions.judge(version, label)
            if isinstance(verdict, str):
                errors.append(_error(index, "label", verdict))
                continue
            changes.append(Change(pid, old, verdict[0], verdict[1], by, now))
        if errors:
            errors.sort(key=lambda e: e["item"])
            noun = "item is" if len(errors) == 1 else "items are"
            # Only other keys' predictions: a matter of permission, not of a malformed request.
            status = 403 if forbidden == len(errors) else 400
            raise InvalidFeedback(f"{len(errors)} feedback {noun} not valid: nothing was recorded", errors, status)
        store(changes)
        held.hold(early, by, now)
    if early:
        # The row may have been written between the look above and the hold: apply it now.
        held.apply(list(early))
    return len(changes), len(early)


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
    return f"no logged prediction has the id {pid}"


def _not_written_yet(pid: uuid.UUID, now: Any) -> bool:
    """Whether the id is one of ours, in the logged sample and recent enough for its row to come."""
    made = issued_at(pid)
    hold = timedelta(seconds=settings.FEEDBACK_HOLD_SECONDS)
    share = settings.PREDICTION_LOG_SAMPLE
    return made is not None and share > 0 and in_sample(pid, share) and now - hold < made < now + hold
