"""Creating, claiming and closing runs: where "one run at a time" is enforced.

The database does the enforcing (a partial unique index on the active flag, and conditional
updates to claim or close a run), so two triggers at the same moment, from any process, can
never both start a run.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from retraining.models import PromotionPolicy, RetrainingRun

Status = RetrainingRun.Status


def current_policy() -> PromotionPolicy:
    policy = PromotionPolicy.objects.order_by("-id").first()
    return policy if policy is not None else PromotionPolicy.objects.create(note="default policy")


def active_run() -> RetrainingRun | None:
    return RetrainingRun.objects.filter(active=True).first()


def start_run(
    trigger: str,
    user: AbstractBaseUser | None = None,
    tick: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> tuple[RetrainingRun, bool]:
    """Create a queued run, or return the one in progress (or already made for this tick).

    The second value says whether a new run was created. `evidence` is why a monitoring
    trigger started it (retraining/monitoring/triggers.py).
    """
    close_stale_runs()
    policy = current_policy()
    try:
        with transaction.atomic():
            run = RetrainingRun.objects.create(
                trigger=trigger,
                triggered_by=user if user is not None and user.is_authenticated else None,
                tick=tick,
                policy=policy.as_dict(),
                estimator=settings.TRAINING_ESTIMATOR,
                params=dict(settings.TRAINING_PARAMS),
                evidence=evidence or {},
            )
    except IntegrityError:
        existing = None
        if tick:
            existing = RetrainingRun.objects.filter(tick=tick).first()
        existing = existing or active_run()
        if existing is None:  # the other run finished between our insert and this read
            return start_run(trigger, user, tick, evidence)
        return existing, False
    return run, True


def claim(run_id: int, owner: dict[str, Any] | None = None) -> bool:
    """Move a queued run to running, owned by `owner` (retraining/runs/ownership.py); False if it is
    not queued (a redelivered message). A run tried again keeps the time it first started."""
    now = timezone.now()
    return (
        RetrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
            heartbeat_at=now,
            owner=owner or {},
            waiting="",
        )
        == 1
    )


def close_lost(run: RetrainingRun, reason: str, owner: dict[str, Any]) -> bool:
    """Close as failed a running run whose owner died; False if it moved on since it was read."""
    return bool(
        RetrainingRun.objects.filter(
            pk=run.pk, active=True, status=Status.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(status=Status.FAILED, active=None, finished_at=timezone.now(), step="", error=reason, owner=owner)
    )


def requeue(run_id: int, waiting: str) -> bool:
    """Put a running run back in the queue for a retry; it stays the active run meanwhile.

    `waiting` says what it waits for and when it is tried next; it is no error (yet).
    """
    now = timezone.now()
    return (
        RetrainingRun.objects.filter(pk=run_id, status=Status.RUNNING, active=True).update(
            status=Status.QUEUED, step="", waiting=waiting, heartbeat_at=now
        )
        == 1
    )


def heartbeat(run_id: int) -> None:
    RetrainingRun.objects.filter(pk=run_id, active=True).update(heartbeat_at=timezone.now())


def finish(run: RetrainingRun, status: str, **fields: Any) -> bool:
    """Close a run once: False if something else (a sweep) closed it first."""
    now = timezone.now()
    updated = RetrainingRun.objects.filter(pk=run.pk, active=True).update(
        status=status, active=None, finished_at=now, step="", **fields
    )
    run.refresh_from_db()
    return updated == 1


def mark_requeued(run: RetrainingRun, again: RetrainingRun, note: str) -> None:
    """Say where a run stopped by a signal went; a run so marked is never queued again."""
    RetrainingRun.objects.filter(pk=run.pk).update(requeued_as=again, reasons=[*run.reasons, note])


def close_stale_runs() -> list[int]:
    """Close as failed the runs whose worker stopped beating (killed, or its machine gone)."""
    now = timezone.now()
    stale_beat = now - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT)
    stale_queue = now - timedelta(seconds=settings.RUN_QUEUE_TIMEOUT)
    closed = []
    for run in RetrainingRun.objects.filter(active=True):
        if run.status == Status.RUNNING and (run.heartbeat_at or run.created_at) < stale_beat:
            reason = (
                f"the worker stopped reporting during step {run.step or '?'!r} "
                f"(no heartbeat for {settings.RUN_HEARTBEAT_TIMEOUT}s): it was killed or lost"
            )
        elif run.status == Status.QUEUED and (run.heartbeat_at or run.created_at) < stale_queue:
            reason = f"no worker picked the run up within {settings.RUN_QUEUE_TIMEOUT}s"
        else:
            continue
        if RetrainingRun.objects.filter(pk=run.pk, active=True, heartbeat_at=run.heartbeat_at).update(
            status=Status.FAILED, active=None, finished_at=now, error=reason
        ):
            closed.append(run.pk)
    return closed


def already_decided(
    run_id: int, setup: tuple[Any, ...], md5: str, champion_version: str, since: datetime
) -> RetrainingRun | None:
    """An earlier run that judged this same data, against this same champion, with the same setup.

    `setup` is (estimator, hyperparameters, policy). Running it again would train the same
    challenger and reach the same verdict, so the new-data check treats it as no new data. A
    change of setup, or a new champion (deployed at `since`), makes the data worth judging again.
    """
    earlier = RetrainingRun.objects.filter(status__in=[Status.KEPT, Status.REJECTED], created_at__gte=since).exclude(
        pk=run_id
    )
    for candidate in earlier.order_by("-id")[:20]:
        same_setup = (candidate.estimator, candidate.params, candidate.policy) == tuple(setup)
        judged_this_champion = candidate.status == Status.REJECTED or candidate.champion_version == champion_version
        if candidate.dataset.get("md5") == md5 and same_setup and judged_this_champion:
            return candidate
    return None


def stopped_by_signal(within: timedelta = timedelta(hours=1)) -> list[RetrainingRun]:
    """Runs a stopping worker closed as failed within `within` and nobody queued again yet."""
    return list(
        RetrainingRun.objects.filter(
            status=RetrainingRun.Status.FAILED, requeued_as=None, finished_at__gte=timezone.now() - within
        )
        .exclude(stopped_by_signal="")
        .order_by("id")
    )
