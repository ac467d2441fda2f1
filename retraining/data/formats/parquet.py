"""Parquet, as pyarrow reads it: typed columns, so no dialect to guess; a column named twice is refused."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retraining.data.base import BadData, DataError, one_line
from retraining.data.formats.base import check_names


class ParquetFormat:
    name = "Parquet"
    suffixes = (".parquet", ".pq")

    def read(self, source: Path | IO[bytes], label: str) -> pd.DataFrame:
        with _parquet_errors(label):
            # A Parquet file is read from its end (its footer): a stream read once is taken whole,
            # which for a compressed columnar file is small beside the frame it becomes.
            where = source if isinstance(source, Path) else pa.BufferReader(source.read())
            parquet = pq.ParquetFile(where)
            check_names(parquet.schema_arrow.names, label)
            if parquet.metadata.num_rows == 0:
                raise BadData(f"{label} has no rows")
            frame = parquet.read().to_pandas()
        frame.attrs["read_as"] = {"format": self.name}
        return frame

    def validate(self, path: Path) -> None:
        """Decodes the file one row group at a time, so publishing a large file needs little memory."""
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file")
        label = str(path)
        with _parquet_errors(label):
            parquet = pq.ParquetFile(path)
            check_names(parquet.schema_arrow.names, label)
            if parquet.metadata.num_rows == 0:
                raise BadData(f"{label} has no rows")
            for group in range(parquet.num_row_groups):
                parquet.read_row_group(group)


@contextlib.contextmanager
def _parquet_errors(label: str) -> Iterator[None]:
    try:
        yield
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadData(f"{label} is not a valid Parquet file: {one_line(str(exc))}") from None
