"""Writing the prediction log off the request path.

A request hands the writer one small tuple of what it already has (`record`): a lock-guarded counter and a queue
put, about a microsecond; nothing is encoded on the request path. One background thread per serving process wakes
every LINGER seconds, turns what is queued (up to BATCH_ROWS rows) into rows a column at a time (`_rows`) and writes
them (`insert`: COPY on PostgreSQL, multi-row INSERTs on SQLite) on a connection it keeps. Its CPU is what logging
costs a saturated worker (the writer holds the GIL while it builds rows), so no step of it runs Python per row.

Serving comes first. The queue is bounded (MAX_PENDING_ROWS): when the database is slow or down and the queue is
full, new rows are dropped and counted, with at most one log line a minute; the request never waits and never fails
because of the log. A batch whose write fails is tried once more on a fresh connection (a killed or failed-over
connection), then dropped and counted. A writer thread that dies (a bug) starts its successor. gunicorn flushes it
as a worker exits. After each batch, labels held for the rows written are applied (held.py) and the log's budget is
checked (budget.py).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from itertools import chain, groupby, repeat
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from predictor.models import LoggedVersion, Prediction
from predictor.predlog import encoding, held, rollups
from predictor.predlog.budget import Budget
from predictor.predlog.ids import sampled

logger = logging.getLogger(__name__)

# Memory bound of what waits to be written: about 2 KB a row at worst, so some 200 MB.
MAX_PENDING_ROWS = 100_000
BATCH_ROWS = 2_000
# The writer wakes this often and writes what is queued in one batch. Rarely: a write has a fixed cost (a
# transaction, the statement) that a large batch shares out, and rows are built a column at a time over the
# batch. Feedback for a prediction not logged yet is held (held.py).
LINGER = 0.5
# The writer keeps its connection between writes (a new SQLite connection sets up the pragmas, Django's functions
# and the schema every time) and lets Django close an old or broken one this often (CONN_MAX_AGE, health checks);
# a failed write reconnects at once.
CONNECTION_CHECK_INTERVAL = 60.0
# After a write failed twice, the writer waits this long before the next one.
BACKOFF = 1.0
DROP_LOG_INTERVAL = 60.0


@dataclass
class Stats:
    """What this process's writer did (since the process started)."""

    written: int = 0
    sampled_out: int = 0
    dropped_queue_full: int = 0
    dropped_write_failed: int = 0
    write_errors: int = 0
    restarts: int = 0
    pending: int = 0
    # The writer thread's own CPU time (time.thread_time) and how many batches it wrote.
    cpu_seconds: float = 0.0
    writes: int = 0


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


class Writer:
    def __init__(self, max_pending: int = MAX_PENDING_ROWS) -> None:
        self.max_pending = max_pending
        self.stats = Stats()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._running = False
        self._stopped = False
        self._known_versions: set[str] = set()
        self._last_drop_log = -math.inf
        self._dropped_since_log = 0
        self._connection_checked = -math.inf
        self.budget = Budget()

    def record(
        self, ids: list[str], served: Any, columns: dict[str, np.ndarray], predictions: list, proba: Any, key: Any
    ) -> None:
        """Queue one answered request for the log; never blocks, never raises on a full queue."""
        count = len(ids)
        with self._lock:
            if self.stats.pending + count > self.max_pending:
                self.stats.dropped_queue_full += count
                self._dropped_since_log += count
                self._log_drops()
                return
            self.stats.pending += count
            if not self._running:
                self._start()
        self._queue.put((ids, time.time(), served, columns, predictions, proba, key))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is written (or dropped); False on timeout."""
        with self._lock:
            if not self._running:
                if self.stats.pending == 0:
                    return True
                self._start()
        marker = _Flush()
        self._queue.put(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def stop(self) -> None:
        """Stop the thread after what is queued now; later records are dropped (tests only)."""
        self._stopped = True
        self._queue.put(None)
        self._wake.set()

    def _start(self) -> None:
        if self._stopped:
            return
        self._running = True
        threading.Thread(target=self._run, name="prediction-log-writer", daemon=True).start()

    def forget(self) -> None:
        """In a forked child: the parent's thread and queue are not ours."""
        self._lock = threading.Lock()
        self._queue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._running = False
        self.stats = Stats()
        self.budget = Budget()

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL:
            self._last_drop_log = now
            logger.warning(
                "prediction log: queue full (%s rows waiting on the database): dropped %s rows in the last %s s",
                self.stats.pending,
                self._dropped_since_log,
                int(DROP_LOG_INTERVAL),
            )
            self._dropped_since_log = 0

    def _run(self) -> None:
        crashed = False
        try:
            self._loop()
        except Exception:
            crashed = True
            self.stats.restarts += 1
            logger.exception("prediction log: the writer thread crashed (its batch is lost); starting a new one")
        finally:
            connection.close()
            with self._lock:
                self._running = False
                if crashed:
                    self._start()

    def _loop(self) -> None:
        full = False
        while True:
            if not full:
                # Woken by the clock (or a flush), never by a request: a put that woke this thread would hand the
                # GIL over, and on a busy machine this thread could be descheduled holding it while the request waits.
                self._wake.wait(LINGER)
                self._wake.clear()
            started = time.thread_time()
            entries, markers, stop = self._drain()
            full = sum(len(entry[0]) for entry in entries) >= BATCH_ROWS
            try:
                if entries:
                    self._write(entries)
            finally:
                self.stats.cpu_seconds += time.thread_time() - started
                for marker in markers:
                    marker.done.set()
            if stop:
                return

    def _drain(self) -> tuple[list[tuple], list[_Flush], bool]:
        """What is queued now, up to BATCH_ROWS rows or a flush marker."""
        entries: list[tuple] = []
        markers: list[_Flush] = []
        rows = 0
        while rows < BATCH_ROWS:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return entries, markers, True
            if isinstance(item, _Flush):
                markers.append(item)
                break
            entries.append(item)
            rows += len(item[0])
        return entries, markers, False

    def _write(self, entries: list[tuple]) -> None:
        count = sum(len(entry[0]) for entry in entries)
        try:
            rows, versions = self._rows(entries)
            for attempt in (1, 2):
                try:
                    now = time.monotonic()
                    if now - self._connection_checked >= CONNECTION_CHECK_INTERVAL:
                        close_old_connections()
                        self._connection_checked = now
                    self._remember_versions(versions)
                    insert(rows, self.share())
                    self.stats.written += len(rows)
                    self.stats.writes += 1
                    held.apply_after_write()
                    self.budget.after_write(len(rows))
                    return
                except DatabaseError as exc:
                    self.stats.write_errors += 1
                    connection.close()
                    if attempt == 2:
                        self.stats.dropped_write_failed += len(rows)
                        logger.warning("prediction log: dropped %s rows, the database refused them: %s", len(rows), exc)
                        time.sleep(BACKOFF)
        finally:
            with self._lock:
                self.stats.pending -= count

    def share(self) -> float:
        """The share of predictions logged now: the budget's (predlog/budget.py) on top of the configured one."""
        return settings.PREDICTION_LOG_SAMPLE * self.budget.share

    def _rows(self, entries: list[tuple]) -> tuple[list[tuple], dict[str, Any]]:
        """Rows as the database takes them, in the order of COLUMNS.

        Built a column at a time over every request of one served model (one schema, so the same dtypes): one
        concatenate per column for the whole batch instead of one per request, each column encoded at once
        (encoding.py), and no Python statement run per row: what a row needs is joined by C-level maps.
        """
        share = self.share()
        native_uuid = connection.features.has_native_uuid_field
        native_datetime = connection.features.supports_timezones
        rows: list[tuple] = []
        versions: dict[str, Any] = {}
        for _, run in groupby(entries, key=lambda entry: (id(entry[2]), entry[5] is None)):
            group = list(run)
            served = group[0][2]
            ids = list(chain.from_iterable(entry[0] for entry in group))
            kept = None if share >= 1 else sampled(ids, share)
            if kept is not None:
                self.stats.sampled_out += len(ids) - len(kept)
                if not kept:
                    continue
            versions[served.version] = served
            times = encoding.created([entry[1] for entry in group], native_datetime)
            sizes = [len(entry[0]) for entry in group]
            created = list(chain.from_iterable(map(repeat, times, sizes)))
            names = list(group[0][3])
            inputs = encoding.inputs({n: np.concatenate([entry[3][n] for entry in group]) for n in names}, len(ids))
            answered = list(chain.from_iterable(entry[4] for entry in group))
            predictions = list(map(str, answered))
            probabilities = encoding.probabilities(group, len(ids))
            if not native_uuid:
                ids = " ".join(ids).replace("-", "").split(" ")
            keys = list(chain.from_iterable(map(repeat, [entry[6] for entry in group], sizes)))
            columns = (ids, created, [served.version] * len(ids), inputs, predictions, probabilities, keys)
            if served.task == "regression":
                # A regressor's answers are numbers, stored as such too (`prediction_value`); a classifier's rows
                # leave that column out (null), as cheap to build and write as before.
                columns = (*columns, list(map(float, answered)))
            if kept is not None:
                columns = tuple(list(map(column.__getitem__, kept)) for column in columns)
            rows.extend(zip(*columns, strict=True))
        return rows, versions

    def _remember_versions(self, versions: dict[str, Any]) -> None:
        for version, served in versions.items():
            if version in self._known_versions:
                continue
            classes = served.classes.tolist() if served.classes is not None else None
            # The classes served now: a version number reused by another registered model is updated.
            LoggedVersion.objects.update_or_create(
                version=version, defaults={"model_name": served.name, "classes": classes}
            )
            self._known_versions.add(version)


# A classification's rows hold the first seven (api_key_id: the key that made it), a regression's all eight.
COLUMNS = ("id", "created_at", "model_version", "inputs", "prediction", "probabilities", "api_key_id")
COLUMNS += ("prediction_value",)


# Rows per SQLite INSERT statement: at most 4,000 parameters, under its limit.
INSERT_ROWS = 500


def insert(rows: list[tuple], share: float = 1.0) -> None:
    """Write prepared rows in one transaction, with their hours' counts (kept at `share`).

    PostgreSQL takes them by COPY (psycopg would split a statement of thousands of placeholders in Python), SQLite
    by multi-row INSERTs in its own placeholders (Django would rewrite them with a regex, and executemany costs more
    a row): the drivers bind the values in C. Not bulk_create: its per-object work holds the GIL beside the requests
    of the same process, row by row.
    """
    table = connection.ops.quote_name(Prediction._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # Rows of one served model are built together, so runs of one width are long.
        for width, run in groupby(rows, key=len):
            names = ", ".join(connection.ops.quote_name(c) for c in COLUMNS[:width])
            if connection.vendor == "postgresql":
                # Raw psycopg: its errors become Django's (DatabaseError) as through Django's cursor.
                with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in run:
                        copy.write_row(row)
            else:
                # SQLite's own placeholders on the driver's connection: Django would rewrite each statement's thousands.
                same = list(run)
                one = "(" + ", ".join(["?"] * width) + ")"
                for start in range(0, len(same), INSERT_ROWS):
                    chunk = same[start : start + INSERT_ROWS]
                    sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"
                    with connection.wrap_database_errors:
                        connection.connection.execute(sql, list(chain.from_iterable(chunk)))
        # In the rows' transaction: the hourly counts are exact at every moment, never behind the log.
        rollups.count_written(rows, share)


_writer = Writer()
os.register_at_fork(after_in_child=lambda: _writer.forget())


def writer() -> Writer:
    return _writer


def record(ids: list[str], served: Any, columns: dict, predictions: list, proba: Any, key: int | None) -> None:
    _writer.record(ids, served, columns, predictions, proba, key)
