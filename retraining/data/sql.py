"""A SQL table or query as a source, snapshotted into the DVC registry before anything reads it.

The registry stays the one versioned truth: every model trains on a DVC revision, so `reproduce`
never needs the database. Checking costs one small query, a row count and the maximum of the
declared watermark column, compared with what the last snapshot's commit recorded; only when they
differ is the result read, in chunks written as Parquet row groups (memory bounded by the chunk,
not the table), and published as the next version of the registry's data file.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ml.redact import redact
from retraining.data.base import DataError, DatasetVersion, DataUnavailable, NotTracked, file_md5, one_line
from retraining.data.registry import init_registry, publish
from retraining.data.source import DvcRegistrySource

# What a snapshot's commit message records, one trailer a line; the check reads them back.
_ROWS, _WATERMARK, _QUERY = "Source-Rows", "Source-Watermark", "Source-Query"


class SqlSource:
    """The rows of `table` (or of `query`) at `url`, read through SQLAlchemy, versioned in `registry`."""

    def __init__(
        self,
        url: str,
        registry: DvcRegistrySource,
        *,
        watermark: str,
        table: str = "",
        query: str = "",
        chunk_rows: int = 50_000,
        remote: str = "",
    ) -> None:
        if bool(table) == bool(query):
            raise DataError("a SQL source reads either DATA_TABLE or DATA_QUERY, exactly one of them")
        if registry.format.name != "Parquet":
            raise DataError(f"DATA_PATH={registry.path!r}: a database is snapshotted as Parquet (data/NAME.parquet)")
        self.url, self.registry, self.watermark = url, registry, watermark
        self.table, self.query, self.chunk_rows, self.remote = table, query, chunk_rows, remote
        self.label = f"table {table}" if table else "DATA_QUERY"
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"SqlSource({redact(self.url)!r}, {self.label!r}, into={self.registry!r})"

    def version(self) -> DatasetVersion:
        """The registry's version when the database holds what it last snapshotted; else a new
        snapshot, published, and its version."""
        seen = self.probe()
        if not self.registry.is_url and self.remote:
            # A local registry (the embedded column) is made on first use, as the demo's is.
            init_registry(Path(self.registry.source), self.remote)
        try:
            current: DatasetVersion | None = self.registry.version()
        except NotTracked:
            current = None  # nothing snapshotted yet
        if current is not None and self._recorded(current) == seen:
            return current
        return self.snapshot(seen, current)

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        return self.registry.pull(version)

    def published(self, version: DatasetVersion, until: datetime) -> list[DatasetVersion]:
        return self.registry.published(version, until)

    def probe(self) -> dict[str, str]:
        """The one small query of a check: how many rows, and the watermark's maximum."""
        column = self._quote(self.watermark)
        sql = f"SELECT COUNT(*), MAX({column}) FROM {self._from()}"
        rows, newest = self._execute(sql, probing=True)
        return {_ROWS: str(rows), _WATERMARK: f"{self.watermark} = {newest}", _QUERY: self._selected()}

    def snapshot(self, seen: dict[str, str], current: DatasetVersion | None) -> DatasetVersion:
        """The result read in chunks into a Parquet file, one row group a chunk, then published."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(prefix="sql-snapshot-") as tmp:
            target = Path(tmp) / Path(self.registry.path).name
            writer = None
            rows = 0
            try:
                with self._connect() as connection:
                    streamed = connection.execution_options(stream_results=True, max_row_buffer=self.chunk_rows)
                    for chunk in pd.read_sql(self._selected(), streamed, chunksize=self.chunk_rows):
                        if writer is None:
                            schema = pa.Schema.from_pandas(chunk, preserve_index=False)
                            writer = pq.ParquetWriter(target, schema)
                        writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
                        rows += len(chunk)
            except DataError:
                raise
            except Exception as exc:
                raise self._error(exc, "reading") from exc
            finally:
                if writer is not None:
                    writer.close()
            if writer is None or rows == 0:
                raise DataError(f"{self.label} at {redact(self.url)} returned no rows: nothing to train on")
            if current is not None and file_md5(target) == current.md5:
                return current
            publish(self.registry.repo, self.registry.path, target, self._message(seen))
        # Read back as every later check reads it (its schema file's id included), so the next
        # check finds the same version.
        return self.registry.version()

    def _message(self, seen: dict[str, str]) -> str:
        lines = [f"Snapshot of {self.label} from {redact(self.url)}: {seen[_ROWS]} rows", ""]
        return "\n".join(lines + [f"{key}: {seen[key]}" for key in (_QUERY, _WATERMARK, _ROWS)])

    def _recorded(self, version: DatasetVersion) -> dict[str, str]:
        """The trailers of the commit that last changed the data file at the version's commit."""
        message = self.registry.last_message(version.rev)
        found = {}
        for line in message.splitlines():
            key, _, value = line.partition(": ")
            if key in (_ROWS, _WATERMARK, _QUERY):
                found[key] = value
        return found

    def _selected(self) -> str:
        """The query read whole, on one line (as the commit message records it)."""
        if self.table:
            return f"SELECT * FROM {self._quote_table()}"
        return re.sub(r"\s+", " ", self.query).strip().rstrip(";")

    def _from(self) -> str:
        return self._quote_table() if self.table else f"({self._selected()}) AS source_rows"

    def _quote_table(self) -> str:
        return ".".join(self._quote(part) for part in self.table.split("."))

    def _quote(self, name: str) -> str:
        return self._engine_or_error().dialect.identifier_preparer.quote(name)

    def _engine_or_error(self) -> Any:
        if self._engine is None:
            import sqlalchemy as sa

            url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", self.url)
            try:
                self._engine = sa.create_engine(url, pool_pre_ping=False, poolclass=sa.pool.NullPool)
            except Exception as exc:
                said = one_line(str(exc))
                raise DataError(
                    f"DATA_SOURCE_URL={redact(self.url)!r} is not a URL SQLAlchemy can use: {said}"
                ) from None
        return self._engine

    def _connect(self) -> Any:
        try:
            return self._engine_or_error().connect()
        except DataError:
            raise
        except Exception as exc:
            # Refused, unknown host, timed out: the database may come back; the run waits for it.
            raise DataUnavailable(f"database {redact(self.url)} is unreachable: {one_line(str(exc))}") from None

    def _execute(self, sql: str, *, probing: bool) -> Any:
        import sqlalchemy as sa

        with self._connect() as connection:
            try:
                return connection.execute(sa.text(sql)).one()
            except Exception as exc:
                raise self._error(exc, "checking", connection if probing else None) from None

    def _error(self, exc: Exception, doing: str, connection: Any = None) -> DataError:
        """A wrong query, table or watermark column: not worth retrying, and said as such."""
        import sqlalchemy as sa

        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return DataUnavailable(f"database {redact(self.url)} went away while {doing}: {one_line(str(exc.orig))}")
        said = one_line(str(getattr(exc, "orig", None) or exc))
        if connection is not None:
            columns = self._columns(connection)
            if columns is not None and self.watermark not in columns:
                return DataError(
                    f"DATA_WATERMARK_COLUMN={self.watermark!r} is not a column of {self.label} "
                    f"(it has {', '.join(columns)})"
                )
        return DataError(f"{self.label} failed on {redact(self.url)} while {doing}: {said}")

    def _columns(self, connection: Any) -> list[str] | None:
        """The result's columns, asked with no row read; None when the query itself is wrong."""
        import sqlalchemy as sa

        connection.rollback()
        try:
            return list(connection.execute(sa.text(f"SELECT * FROM {self._from()} LIMIT 0")).keys())
        except Exception:
            connection.rollback()
            return None
