"""Starting a retraining run from any interface: panel, REST, command line, monitoring triggers."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from retraining.models import RetrainingRun
from retraining.runs import store


def trigger_run(
    trigger: str, user: AbstractBaseUser | None = None, evidence: dict[str, Any] | None = None
) -> tuple[RetrainingRun, bool]:
    """Queue a run for the worker, or return the run in progress. Enqueued after commit."""
    from retraining.tasks import retrain

    run, created = store.start_run(trigger, user, evidence=evidence)
    if created:
        transaction.on_commit(lambda: retrain.delay(run.pk))
    return run, created
