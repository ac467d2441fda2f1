"""The workers' heartbeat rows, beside the app's other models (retraining/models.py re-exports them)."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """A Celery worker's last sign of life and what it was running then, one row per worker.

    Written every few seconds by the worker itself (retraining/workers/heartbeat.py), read by the panel and
    GET /api/v1/workers on every poll: the whole table is a handful of rows, read in one query.
    """

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    running = models.JSONField(default=list)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The fingerprint of the training setup this worker's own settings describe (runs it starts use it).
    setup_fingerprint = models.CharField(max_length=64, blank=True)
    # Whether its consumer was connected to the broker at that heartbeat: the row is written to the
    # database, so a worker cut off from its broker still beats. True for a worker from before.
    consuming = models.BooleanField(default=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"worker {self.hostname} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"
