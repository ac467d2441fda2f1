import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from ml.redact import redact_handlers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each worker writes its heartbeat and what it runs (see retraining/workers/heartbeat.py).
app.steps["worker"].add("retraining.workers.heartbeat:Heartbeat")


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_log(logger: logging.Logger, **kwargs: object) -> None:
    """Celery replaces Django's log handlers in its processes: the worker log is redacted too."""
    redact_handlers(logger)
