"""Every dataset version the pipeline saw, from the runs that recorded it: what it is, how it was
read, and which runs and models used it. Read from the runs' own records in one query, so the page
says only what a run wrote down ("unknown" where none did)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from predictor.models import Deployment
from retraining.models import RetrainingRun

# What a source says of itself in its version record, by its `kind` (SQL snapshots and feedback
# partitions write one); a version without one is a file or a folder of files.
KIND_LABELS = {
    "file": "file",
    "folder": "folder of files",
    "sql": "SQL snapshot",
    "feedback": "feedback partition",
}


@dataclass
class DataVersion:
    md5: str
    rev: str
    source: str
    path: str
    size: int | None
    kind: str
    provenance: str
    first_seen: datetime
    rows: int | None = None
    columns: int | None = None
    read_as: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    # The first run that read it and recorded how (its page's lineage: reading, columns, split).
    lineage_run: int | None = None
    models: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)


def data_versions() -> list[DataVersion]:
    """Each version (by content: md5 and schema file), newest first, with the runs that read it."""
    found: dict[tuple[str, str], DataVersion] = {}
    runs = (
        RetrainingRun.objects.exclude(dataset={})
        .order_by("id")
        .values_list("id", "created_at", "status", "trigger", "dataset", "rows", "lineage", "model_version")
    )
    for pk, created_at, status, trigger, dataset, rows, lineage, model_version in runs.iterator(chunk_size=500):
        if not dataset.get("md5"):
            continue
        key = (dataset["md5"], str(dataset.get("schema") or ""))
        if key not in found:  # runs come oldest first: the first to record a version saw it first
            found[key] = _version(dataset, created_at)
        version = found[key]
        _learn(version, rows or {}, lineage or {})
        if version.lineage_run is None and lineage:
            version.lineage_run = pk
        version.runs.append({"id": pk, "status": status, "trigger": trigger, "at": created_at})
        if model_version and model_version not in version.models:
            version.models.append(model_version)
    by_md5 = {md5: version for (md5, _), version in found.items()}
    for version_name, data_version in Deployment.objects.order_by("id").values_list("version", "data_version"):
        version = by_md5.get((data_version or {}).get("md5", ""))
        if version is not None and version_name not in version.served:
            version.served.append(version_name)
    # Runs queued in one instant (in bulk) still have an order: their ids.
    return sorted(found.values(), key=lambda version: (version.first_seen, version.runs[0]["id"]), reverse=True)


def _version(dataset: dict[str, Any], seen: datetime) -> DataVersion:
    kind = str(dataset.get("kind") or "")
    return DataVersion(
        md5=dataset["md5"],
        rev=str(dataset.get("rev") or ""),
        source=str(dataset.get("source") or ""),
        path=str(dataset.get("path") or ""),
        size=dataset.get("size"),
        kind=KIND_LABELS.get(kind, kind),
        provenance=str(dataset.get("provenance") or ""),
        first_seen=seen,
    )


def _learn(version: DataVersion, rows: dict[str, Any], lineage: dict[str, Any]) -> None:
    """Fill in what this run knew of the version and an earlier one did not (a skipped run never read it)."""
    if version.rows is None and rows.get("total") is not None:
        version.rows = int(rows["total"])
    columns = (lineage.get("columns") or {}).get("columns") or {}
    if version.columns is None and columns:
        version.columns = len(columns)
    read_as = lineage.get("read_as") or {}
    if not version.read_as and read_as.get("format"):
        files = read_as.get("files")
        version.read_as = str(read_as["format"]) + (f", {files} files" if files else "")
    if not version.kind and read_as:
        version.kind = KIND_LABELS["folder"] if (read_as.get("files") or 1) > 1 else KIND_LABELS["file"]
