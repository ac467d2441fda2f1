"""The prediction log's budget: at most PREDICTION_LOG_MAX_ROWS rows, whatever the traffic.

A rate limit counts requests, and one request may carry thousands of rows, so the log is bounded
by its own size. Each serving process's writer thread (never a request) calls `Budget.after_write`;
every CHECK_INTERVAL seconds, or at once when what the process wrote since could have reached
the mark, one process, the one that moves LogBudget.checked_at first, counts the log and:

- prunes the oldest rows (by created_at, indexed) down to PRUNE_TO of the budget when it is over;
- once the log holds SAMPLE_FROM of the budget, samples new predictions down to the share that
  lets the budget hold PREDICTION_LOG_DAYS at the rate predictions arrive now (measured from how
  much the log grew since the last check, divided by the share then in force), never below MIN_SHARE;
  below SAMPLE_FROM everything is logged again.

A change of share is recorded (LogSampling): a count of predictions logged while a share s was
in force, divided by s times PREDICTION_LOG_SAMPLE, estimates what was served. The first time
sampling starts, `prediction_log_sampling` is sent once (the pipeline notifies the team); it is
sent again only after the log went back to keeping everything. The other processes read the
share in force at the same interval. A database fault skips a check: the log is never a reason
for a request to fail.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from predictor.models import LogBudget, LogSampling, Prediction
from predictor.signals import prediction_log_sampling

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0
SAMPLE_FROM = 0.8
PRUNE_TO = 0.95
MIN_SHARE = 0.001
PRUNE_BATCH = 5_000
HEADROOM_SHARES = 8


class Budget:
    """What one process knows of the budget: the share in force, read or decided off the request path."""

    def __init__(self) -> None:
        self.share = 1.0
        self._next_check = 0.0
        # Rows in the log at the last check, and what this process wrote since.
        self._rows = 0
        self._written = 0

    def after_write(self, written: int) -> None:
        """After this process wrote `written` rows: check every CHECK_INTERVAL, and at once when
        its own writes since the last check could have reached the sampling mark (or the budget,
        once sampling), so a flood does not outrun the interval."""
        self._written += written
        now = time.monotonic()
        limit = settings.PREDICTION_LOG_MAX_ROWS
        mark = limit * SAMPLE_FROM if self.share >= 1 else limit
        # Other processes write too: checked when this one alone filled a share of the headroom.
        urgent = self._written * HEADROOM_SHARES >= mark - self._rows
        if now < self._next_check and not urgent:
            return
        self._next_check = now + CHECK_INTERVAL
        try:
            self.share, self._rows = _check(interval=0 if urgent else None)
            self._written = 0
        except DatabaseError as exc:
            logger.warning("prediction log: the budget check failed, trying again in %s s: %s", CHECK_INTERVAL, exc)


def state() -> LogBudget:
    budget = LogBudget.objects.filter(pk=1).first()
    if budget is None:
        # Never checked: the first writer to come checks at once.
        LogBudget.objects.get_or_create(pk=1, defaults={"checked_at": timezone.now() - timedelta(days=1)})
        budget = LogBudget.objects.get(pk=1)
    return budget


def check(now: datetime | None = None, interval: float | None = None) -> float:
    """Enforce the budget if no other process did in the last `interval` seconds; the share in force."""
    return _check(now, interval)[0]


def _check(now: datetime | None = None, interval: float | None = None) -> tuple[float, int]:
    """(the share in force, rows in the log at the last check)."""
    now = now or timezone.now()
    interval = CHECK_INTERVAL if interval is None else interval
    previous = state()
    claimed = LogBudget.objects.filter(pk=1, checked_at=previous.checked_at).filter(
        checked_at__lte=now - timedelta(seconds=interval)
    )
    if not claimed.update(checked_at=now):
        return previous.share, previous.rows
    limit = settings.PREDICTION_LOG_MAX_ROWS
    rows = Prediction.objects.count()
    # Rows written since the last check (which left `previous.rows`): not by created_at, the
    # request's time, which lags behind when the writers have a backlog.
    arrived = max(0, rows - previous.rows)
    if rows > limit:
        rows -= prune_oldest(rows - int(limit * PRUNE_TO))
    share = _share(rows, limit, arrived, (now - previous.checked_at).total_seconds(), previous.share)
    starts = share < 1 and previous.share >= 1 and not previous.notified
    with transaction.atomic():
        LogBudget.objects.filter(pk=1).update(
            rows=rows, share=share, notified=share < 1 and (previous.notified or starts)
        )
        if share != previous.share:
            LogSampling.objects.create(since=now, share=share, rows=rows, budget=limit)
    if starts:
        logger.warning("prediction log: %s rows of a budget of %s: keeping %.4g of new predictions", rows, limit, share)
        prediction_log_sampling.send(sender=LogBudget, share=share, rows=rows, budget=limit)
    return share, rows


def _share(rows: int, limit: int, arrived: int, seconds: float, share: float) -> float:
    if rows < limit * SAMPLE_FROM or seconds <= 0:
        return 1.0
    offered = arrived / share / seconds
    holds = limit / (settings.PREDICTION_LOG_DAYS * 86_400)
    # Rounded to a power of two: the share changes when the rate does, not at every check's noise.
    wanted = max(MIN_SHARE, min(1.0, holds / offered)) if offered > 0 else share
    return 1.0 if wanted >= 1 else max(MIN_SHARE, 2.0 ** math.floor(math.log2(wanted)))


def prune_oldest(count: int, batch: int = PRUNE_BATCH) -> int:
    """Delete the `count` oldest predictions, a batch at a time (short transactions beside the writers)."""
    deleted = 0
    while deleted < count:
        ids = list(
            Prediction.objects.order_by("created_at").values_list("id", flat=True)[: min(batch, count - deleted)]
        )
        if not ids:
            break
        deleted += Prediction.objects.filter(id__in=ids).delete()[0]
    return deleted


def report() -> dict:
    """The budget as the monitoring report and page show it."""
    budget = LogBudget.objects.filter(pk=1).first()
    history = LogSampling.objects.all()[:20]
    return {
        "max_rows": settings.PREDICTION_LOG_MAX_ROWS,
        "rows": budget.rows if budget else None,
        "checked_at": budget.checked_at.isoformat() if budget else None,
        "share": budget.share if budget else 1.0,
        "sampling": bool(budget and budget.share < 1),
        "history": [
            {"since": change.since.isoformat(), "share": change.share, "rows": change.rows, "budget": change.budget}
            for change in history
        ],
    }
