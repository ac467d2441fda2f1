"""Labels sent before their prediction reached the log: held in the database, applied when the row is written.

A client may learn the truth as soon as it has the answer, and the row is written a moment later
by the process that answered, which need not be the one that takes the feedback. So the label is
held in a table (HeldLabel) that every process reads: the writer applies held labels after each
batch it writes (`apply_after_write`), and feedback applies its own right after holding them, in
case the row was written in between. Whichever comes second finds the other's commit, and
applying deletes the held row under the prediction's row lock, so a label is applied once.

A held label is checked when its row comes, as feedback checks a label (labels.py); one that does
not fit, or whose prediction was made with another key, is dropped with the reason. One whose row
has not come within FEEDBACK_HOLD_SECONDS is dropped too. Dropped labels stay as rows, counted in
GET /api/v1/monitoring, until the log's retention prunes them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from predictor.models import HeldLabel
from predictor.predlog.labels import Change, Labeller, Versions, locked, owner_refusal, store

logger = logging.getLogger(__name__)


def hold(labels: dict[uuid.UUID, str], by: Labeller, now: datetime) -> None:
    """Hold these labels (prediction id: label) for their rows, for FEEDBACK_HOLD_SECONDS."""
    expires = now + timedelta(seconds=settings.FEEDBACK_HOLD_SECONDS)
    HeldLabel.objects.bulk_create(
        HeldLabel(
            prediction_id=pid,
            label=label,
            source=by.source,
            api_key_id=by.key_id,
            received_at=now,
            expires_at=expires,
        )
        for pid, label in labels.items()
    )


def _pending(now: datetime) -> Any:
    return HeldLabel.objects.filter(dropped="", expires_at__gt=now)


def apply(ids: list[uuid.UUID] | None = None) -> int:
    """Apply the held labels (of these predictions, or all) whose rows are in the log now; returns
    how many were applied."""
    now = timezone.now()
    pending = _pending(now)
    if ids is not None:
        pending = pending.filter(prediction_id__in=ids)
    waiting = set(pending.values_list("prediction_id", flat=True))
    if not waiting:
        return 0
    with transaction.atomic():
        rows = locked(list(waiting))
        if not rows:
            return 0
        # Read again under the rows' locks: another process may have applied them meanwhile.
        labels = list(_pending(now).filter(prediction_id__in=list(rows)).order_by("received_at", "id"))
        versions = Versions({version for version, _, _ in rows.values()})
        current = {pid: label for pid, (_, label, _) in rows.items()}
        changes: list[Change] = []
        applied: list[int] = []
        for held in labels:
            version, _, owner = rows[held.prediction_id]
            by = Labeller(held.source, held.api_key_id)
            verdict = owner_refusal(held.prediction_id, owner, by) or versions.judge(version, held.label)
            if isinstance(verdict, str):
                HeldLabel.objects.filter(pk=held.pk).update(dropped=verdict)
                continue
            changes.append(Change(held.prediction_id, current[held.prediction_id], *verdict, by, held.received_at))
            current[held.prediction_id] = verdict[0]
            applied.append(held.pk)
        store(changes)
        HeldLabel.objects.filter(pk__in=applied).delete()
    return len(applied)


def apply_after_write() -> None:
    """The writer's call after each batch: one small query when nothing is held. Never raises:
    the batch is written whatever happens here, and a label still held is applied by a later one."""
    try:
        apply()
    except Exception:
        logger.exception("prediction log: applying held feedback failed; it is tried after the next batch")


def counts(now: datetime | None = None) -> dict[str, int]:
    """Labels held now, and labels dropped unapplied (expired, or refused when their row came)."""
    now = now or timezone.now()
    held = _pending(now).count()
    return {"held": held, "dropped": HeldLabel.objects.count() - held}
