from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedule(sender: AppConfig, **kwargs: Any) -> None:
    from retraining.workers.schedule import ensure_default_schedule

    ensure_default_schedule()


class RetrainingConfig(AppConfig):
    name = "retraining"
    verbose_name = "Retraining"

    def ready(self) -> None:
        # After every migrate (the release step included), the schedule exists.
        post_migrate.connect(_ensure_schedule, sender=self)
        from celery import signals

        from retraining import checks, tasks
        from retraining.data import configured  # noqa: F401  (registers the data settings' checks)
        from retraining.runs import shutdown

        # A worker on a dyno with a store it would lose does not start; SIGTERM closes a run cleanly,
        # and once the worker consumes nothing more, the runs it stopped are queued again.
        signals.worker_init.connect(checks.refuse_to_start_with_errors, weak=False, dispatch_uid="production-checks")
        signals.beat_init.connect(checks.refuse_to_start_with_errors, weak=False, dispatch_uid="production-checks-beat")
        # What `check --deploy` warns of for several hosts is logged as a worker starts (beat's
        # scheduler says it too, retraining/workers/scheduler.py).
        signals.worker_init.connect(checks.warn_of_what_other_hosts_would_not_share, weak=False, dispatch_uid="hosts")
        shutdown.connect()
        signals.worker_shutdown.connect(tasks.requeue_after_shutdown, weak=False, dispatch_uid="shutdown-requeue")
        from predictor.signals import deployment_rolled_back, prediction_log_sampling
        from retraining.notify.receivers import announce_log_sampling, announce_rollback

        # Staff hear of an automatic rollback in serving through the pipeline's channels.
        deployment_rolled_back.connect(announce_rollback, dispatch_uid="retraining-announce-rollback")
        # ... and once when the prediction log's budget starts sampling predictions down.
        prediction_log_sampling.connect(announce_log_sampling, dispatch_uid="retraining-announce-log-sampling")
