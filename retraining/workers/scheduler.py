"""Beat's scheduler: django-celery-beat's, plus a look for runs stalled without a worker.

The look runs in beat itself, not as a task: a task would need the very worker that is missing.
"""

import logging
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

from retraining import checks
from retraining.workers import heartbeat

logger = logging.getLogger(__name__)


class Scheduler(DatabaseScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before the schedule is read from the database (`beat_init` comes after): a beat that
        # cannot reach its database still says what other hosts would not share.
        checks.warn_of_what_other_hosts_would_not_share()
        super().__init__(*args, **kwargs)
        self.next_stall_check = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        if time.monotonic() >= self.next_stall_check:
            self.next_stall_check = time.monotonic() + settings.WORKER_HEARTBEAT_INTERVAL
            try:
                heartbeat.notify_stalled_runs()
            except Exception:
                logger.exception("could not look for runs stalled without a worker")
            finally:
                close_old_connections()
        return min(interval, settings.WORKER_HEARTBEAT_INTERVAL)
