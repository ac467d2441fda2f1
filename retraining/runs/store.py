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

from retraining.data import DatasetVersion
from retraining.models import PromotionPolicy, RetrainingRun
from retraining.runs import ownership
from retraining.runs.setup import TrainingSetup

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
    setup: TrainingSetup | None = None,
    forced: dict[str, Any] | None = None,
) -> tuple[RetrainingRun, bool]:
    """Create a queued run, or return the one in progress (or already made for this tick).

    The second value says whether a new run was created. `evidence` is why a monitoring
    trigger started it (retraining/monitoring/triggers.py). The run carries `setup`, by default
    the one this process's settings and the current policy describe, frozen now. `forced` is who
    made it go ahead on data already judged ({"by", "at", "why"}). This process is the run's
    starter: it answers for the run, for at most RUN_START_LEASE seconds, until a worker claims
    it or the broker holds its message (`handed_over`).
    """
    close_stale_runs()
    setup = setup or TrainingSetup.from_settings(current_policy().as_dict())
    now = timezone.now()
    try:
        with transaction.atomic():
            run = RetrainingRun.objects.create(
                trigger=trigger,
                triggered_by=user if user is not None and user.is_authenticated else None,
                tick=tick,
                policy=setup.policy,
                estimator=setup.estimator,
                params=setup.params,
                setup=setup.serialise(),
                setup_fingerprint=setup.fingerprint,
                forced=forced or {},
                evidence=evidence or {},
                starter=ownership.starter(trigger),
                start_lease_until=now + timedelta(seconds=settings.RUN_START_LEASE),
            )
    except IntegrityError:
        existing = None
        if tick:
            existing = RetrainingRun.objects.filter(tick=tick).first()
        existing = existing or active_run()
        if existing is None:  # the other run finished between our insert and this read
            return start_run(trigger, user, tick, evidence, setup, forced)
        return existing, False
    return run, True


def handed_over(run_id: int) -> None:
    """The broker holds the run's message: its starter no longer answers for it."""
    RetrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(start_lease_until=None)


def close_unsent(run_id: int, reason: str) -> bool:
    """Close as failed a queued run whose message never reached the broker: nothing will run it."""
    return bool(
        RetrainingRun.objects.filter(pk=run_id, active=True, status=Status.QUEUED).update(
            status=Status.FAILED, active=None, finished_at=timezone.now(), error=reason, start_lease_until=None
        )
    )


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
            start_lease_until=None,
        )
        == 1
    )


def close_lost(run: RetrainingRun, reason: str, owner: dict[str, Any]) -> bool:
    """Close as failed a running run whose owner died (as cancelled if someone had cancelled it);
    False if it moved on since it was read."""
    status = Status.CANCELLED if run.cancel_requested_at else Status.FAILED
    return bool(
        RetrainingRun.objects.filter(
            pk=run.pk, active=True, status=Status.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(status=status, active=None, finished_at=timezone.now(), step="", error=reason, owner=owner)
    )


def requeue(run_id: int, waiting: str) -> bool:
    """Put a running run back in the queue for a retry; it stays the active run meanwhile.

    `waiting` says what it waits for and when it is tried next; it is no error (yet).
    """
    now = timezone.now()
    return (
        RetrainingRun.objects.filter(pk=run_id, status=Status.RUNNING, active=True, cancel_requested_at=None).update(
            status=Status.QUEUED, step="", waiting=waiting, heartbeat_at=now
        )
        == 1
    )


def heartbeat(run_id: int) -> bool:
    """The run's worker is alive; True when someone asked to cancel the run."""
    RetrainingRun.objects.filter(pk=run_id, active=True).update(heartbeat_at=timezone.now())
    return RetrainingRun.objects.filter(pk=run_id).exclude(cancel_requested_at=None).exists()


class NotCancellable(Exception):
    """The run has already ended: there is nothing to cancel."""


def cancel(run_id: int, who: str) -> RetrainingRun:
    """Cancel a run: a queued run is closed at once; a running one is asked to stop, and stops at
    its next step boundary, or at once inside an interruptible step (retraining/runs/recorder.py).

    A cancelled run is never queued again, by any recovery. Raises `RetrainingRun.DoesNotExist`,
    or `NotCancellable` for a run that has already ended.
    """
    now = timezone.now()
    when = f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S %Z}"
    audit = {"cancel_requested_at": now, "cancelled_by": who}
    closed = RetrainingRun.objects.filter(pk=run_id, active=True, status=Status.QUEUED).update(
        status=Status.CANCELLED,
        active=None,
        finished_at=now,
        start_lease_until=None,
        waiting="",
        reasons=[f"cancelled by {who} at {when} before any worker started it; nothing was run"],
        **audit,
    )
    if not closed:
        RetrainingRun.objects.filter(pk=run_id, active=True, status=Status.RUNNING, cancel_requested_at=None).update(
            **audit
        )
    run = RetrainingRun.objects.get(pk=run_id)
    if run.finished and run.status != Status.CANCELLED:
        raise NotCancellable(f"run #{run.pk} has already ended ({run.status}): nothing to cancel")
    return run


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
        owner = run.owner
        if run.status == Status.RUNNING and (run.heartbeat_at or run.created_at) < stale_beat:
            reason = (
                f"the worker stopped reporting during step {run.step or '?'!r} "
                f"(no heartbeat for {settings.RUN_HEARTBEAT_TIMEOUT}s): it was killed or lost"
            )
            # Lost like a run whose process died: queued again once (`take_swept`), and never a third time.
            owner = {**owner, "lost_at": now.isoformat(), "requeue": None if run.cancel_requested_at else "pending"}
        elif run.status == Status.QUEUED and (dead := ownership.starter_gone(run, now)):
            reason = f"{dead}; nothing was run"
        elif run.status == Status.QUEUED and (run.heartbeat_at or run.created_at) < stale_queue:
            reason = f"no worker picked the run up within {settings.RUN_QUEUE_TIMEOUT}s"
        else:
            continue
        status = Status.CANCELLED if run.cancel_requested_at else Status.FAILED
        if RetrainingRun.objects.filter(pk=run.pk, active=True, heartbeat_at=run.heartbeat_at).update(
            status=status, active=None, finished_at=now, error=reason, start_lease_until=None, owner=owner
        ):
            closed.append(run.pk)
    return closed


def take_swept(within: timedelta = timedelta(hours=1)) -> list[RetrainingRun]:
    """Runs the sweep closed (within `within`) that nobody has queued again yet, each handed to one
    caller only: the sweep task, a trigger and another worker may all sweep at the same moment."""
    taken = []
    pending = RetrainingRun.objects.filter(
        status=Status.FAILED, requeued_as=None, owner__requeue="pending", finished_at__gte=timezone.now() - within
    )
    for run in pending.order_by("id"):
        owner = {**run.owner, "requeue": "taken"}
        if RetrainingRun.objects.filter(pk=run.pk, owner__requeue="pending").update(owner=owner):
            run.owner = owner
            taken.append(run)
    return taken


def already_decided(
    run_id: int, setup: tuple[str, dict[str, Any]], version: DatasetVersion, champion_version: str, since: datetime
) -> RetrainingRun | None:
    """An earlier run that judged this same data, against this same champion, with the same setup.

    `setup` is (the setup's fingerprint, the policy). Running it again would train the same
    challenger and reach the same verdict, so the new-data check treats it as no new data. A
    change of setup, or a new champion (deployed at `since`), makes the data worth judging again.
    """
    fingerprint, policy = setup
    earlier = RetrainingRun.objects.filter(status__in=[Status.KEPT, Status.REJECTED], created_at__gte=since).exclude(
        pk=run_id
    )
    for candidate in earlier.order_by("-id")[:20]:
        same_setup = candidate.setup_fingerprint == fingerprint and candidate.policy == policy
        judged_this_champion = candidate.status == Status.REJECTED or candidate.champion_version == champion_version
        if version.same_data(candidate.dataset) and same_setup and judged_this_champion:
            return candidate
    return None


def stopped_by_signal(within: timedelta = timedelta(hours=1)) -> list[RetrainingRun]:
    """Runs a stopping worker closed as failed within `within` and nobody queued again yet."""
    return list(
        RetrainingRun.objects.filter(
            status=RetrainingRun.Status.FAILED,
            requeued_as=None,
            cancel_requested_at=None,
            finished_at__gte=timezone.now() - within,
        )
        .exclude(stopped_by_signal="")
        .order_by("id")
    )
