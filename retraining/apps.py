from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedule(sender: AppConfig, **kwargs: Any) -> None:
    from retraining.schedule import ensure_default_schedule

    ensure_default_schedule()


class RetrainingConfig(AppConfig):
    name = "retraining"
    verbose_name = "Retraining"

    def ready(self) -> None:
        # After every migrate (the release step included), the schedule exists.
        post_migrate.connect(_ensure_schedule, sender=self)
        from retraining import checks, shutdown  # noqa: F401  (production checks; what a worker does on SIGTERM)

        shutdown.connect()
