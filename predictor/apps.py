from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_prune_task(sender: AppConfig, **kwargs: Any) -> None:
    from predictor.predlog import ensure_prune_task

    ensure_prune_task()


class PredictorConfig(AppConfig):
    name = "predictor"
    verbose_name = "Serving"

    def ready(self) -> None:
        from predictor import checks  # noqa: F401  (registers the production system checks)

        # After every migrate (the release step included), beat prunes the prediction log.
        post_migrate.connect(_ensure_prune_task, sender=self)
