"""A run's own log: the lines its worker logs while working on it, kept with the run.

A handler on the root logger while the recorder works on a run: a worker runs one run at a
time, so every record in the process then belongs to it (its steps, the heartbeat thread,
MLflow and DVC warnings). The lines are redacted like every other output, the tail is kept
within RUN_LOG_MAX_BYTES, and the text is written on each heartbeat and at the end, so a run
that failed, or whose worker was killed, still shows what it logged up to its last beat.
"""

import logging
import threading

from django.conf import settings
from django.db import transaction

from ml.redact import RedactingFilter
from retraining.models import RetrainingRun, RunLog

# The same line shape as the console's (config/settings.py LOGGING), so both read alike.
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RunLogHandler(logging.Handler):
    """Collects formatted, redacted lines in memory, the tail within the cap, and saves them."""

    def __init__(self, run_id: int, max_bytes: int | None = None) -> None:
        super().__init__(level=logging.INFO)
        self.run_id = run_id
        self.max_bytes = max_bytes or settings.RUN_LOG_MAX_BYTES
        self.setFormatter(logging.Formatter(_FORMAT))
        self.addFilter(RedactingFilter())
        self._lines: list[str] = []
        self._size = 0
        self._dropped = 0
        self._changed = False
        self._lock_lines = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        size = len(line.encode())
        with self._lock_lines:
            self._lines.append(line)
            self._size += size
            while self._size > self.max_bytes and len(self._lines) > 1:
                dropped = len(self._lines.pop(0).encode())
                self._size -= dropped
                self._dropped += dropped
            if self._size > self.max_bytes:  # one line larger than the cap: keep its end
                keep = self._lines[0].encode()[-self.max_bytes :]
                self._dropped += self._size - len(keep)
                self._lines[0], self._size = keep.decode(errors="ignore"), len(keep)
            self._changed = True

    @classmethod
    def for_run(cls, run_id: int) -> "RunLogHandler":
        """A handler that goes on from what the run logged before (an earlier attempt of a retried run)."""
        handler = cls(run_id)
        before = RunLog.objects.filter(run_id=run_id).values_list("text", "dropped_bytes").first()
        if before and before[0]:
            handler._lines, handler._size = [before[0]], len(before[0].encode())
            handler._dropped = before[1]
        return handler

    def text(self) -> tuple[str, int]:
        """The kept lines and how many bytes were dropped from the head."""
        with self._lock_lines:
            return "".join(self._lines), self._dropped

    def save(self) -> None:
        """Write the kept tail to the run's log row, if anything was logged since the last save."""
        with self._lock_lines:
            if not self._changed:
                return
            self._changed = False
        text, dropped = self.text()
        with transaction.atomic():
            RunLog.objects.update_or_create(run_id=self.run_id, defaults={"text": text, "dropped_bytes": dropped})


def run_log(run: RetrainingRun) -> RunLog:
    """A run's log row; an empty one for a run that logged nothing (queued, or from before logs were kept)."""
    try:
        return RunLog.objects.get(run_id=run.pk)
    except RunLog.DoesNotExist:
        return RunLog(run=run)
