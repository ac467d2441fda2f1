"""What the panel shows of live serving: the Monitoring page's figures, a run's monitoring
evidence, and the live quality figure the dashboard's badge polls.

The page reads the same section builders as GET /api/v1/monitoring (predictor/api/report.py), so
the page and the API never disagree. The badge scores the primary metric from the confusion counts
(`predlog.labelled_counts`, one GROUP BY whatever the number of labels, and `quality.score_counts`)
and judges it with the degradation trigger's own rule (retraining/monitoring/triggers.py `fell`). ROC AUC needs
every row's probabilities: for it the badge points to the Monitoring page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ml.drift import drift
from ml.task import ALL_METRICS
from predictor import predlog
from predictor.api import report as api
from predictor.models import Deployment, DriftCheck
from predictor.predlog import budget as log_budget
from predictor.predlog import quality
from retraining.models import TriggerSettings
from retraining.monitoring import triggers
from retraining.panel import selectors

PREDICTIONS_LABEL = drift.PREDICTIONS_LABEL


@dataclass(frozen=True)
class LiveFigure:
    """A version's live primary metric on its labelled predictions, judged as the trigger does."""

    version: str
    metric: str
    labels: int
    since: datetime
    holdout: float | None
    min_labels: int
    margin: float
    value: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def waiting(self) -> bool:
        return self.labels < self.min_labels

    @property
    def fell(self) -> bool:
        judged = self.high is not None and self.holdout is not None and not self.waiting
        return judged and triggers.fell({"high": self.high}, self.holdout, self.margin)


def live_figure(deployment: Deployment, metric: str, trigger_settings: TriggerSettings, now: datetime) -> LiveFigure:
    """The served version's live `metric` over the trigger's window (QUALITY_WINDOW_DAYS, from its
    deployment at the earliest), with its 95% interval."""
    since = triggers.quality_since(deployment, now)
    cells = predlog.labelled_counts(deployment.version, since)
    figure = LiveFigure(
        version=deployment.version,
        metric=metric,
        labels=sum(cells.values()),
        since=since,
        holdout=(deployment.metrics or {}).get(metric),
        min_labels=trigger_settings.min_labels,
        margin=trigger_settings.degradation_margin,
    )
    positive = predlog.positive_class(deployment.version, deployment.data_version) if metric != "accuracy" else None
    scored = quality.score_counts(cells, metric, positive)
    if scored is None:
        return figure
    return LiveFigure(**{**figure.__dict__, **scored})


def drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A drift report's table: every feature, then the predicted class mix when it was compared."""
    rows = [{"name": name, **score} for name, score in (report.get("features") or {}).items()]
    predictions = report.get(drift.PREDICTIONS)
    if predictions:
        rows.append({**predictions, "name": _label(drift.PREDICTIONS), "kind": "categorical"})
    return rows


def _label(name: str) -> str:
    return PREDICTIONS_LABEL if name == drift.PREDICTIONS else name


def page(deployment: Deployment | None, now: datetime | None = None) -> dict[str, Any]:
    """The Monitoring page: drift over time and the newest check, live quality against holdout
    per version, prediction volume, and the served version's class mix."""
    now = now or timezone.now()
    checks = api.drift_section(now)
    latest = checks["latest"]
    features = list((latest or {}).get("features") or {})
    for check in checks["history"]:
        features += [name for name in check["psi"] if name not in features]
    volume = api.volume_section(now)
    versions = sorted({v for counts in volume.values() for v in counts}, key=_version_order, reverse=True)
    return {
        "latest": latest,
        "latest_at": {key: _moment(latest[key]) for key in ("since", "checked_at")} if latest else None,
        "latest_rows": drift_rows(latest) if latest else [],
        "drift_chart": {
            "threshold": ((latest or {}).get("thresholds") or {}).get("psi", settings.DRIFT_PSI_THRESHOLD),
            "series": [{"key": name, "label": _label(name)} for name in features],
            "min_rows": settings.DRIFT_MIN_ROWS,
            "checks": _drift_points(checks["history"][::-1]),
        },
        "monitor_interval": settings.MONITOR_INTERVAL,
        "quality": [_quality_rows(entry) for entry in api.quality_section(now)],
        "volume": [{"version": v, **{window: volume[window].get(v, 0) for window in volume}} for v in versions],
        "hourly": selectors.hourly_volume(now),
        "log_sample": settings.PREDICTION_LOG_SAMPLE,
        "log_budget": log_budget.report(),
        # A class mix for a classifier; a regression's predictions are numbers, watched as a
        # distribution by the drift check ("predictions" in the drift chart).
        "mix": _mix(deployment, now) if deployment is not None and not _regression(deployment) else None,
    }


def _drift_points(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks as the drift chart draws them (oldest first): a check with too few rows for a
    verdict is not counted as a PSI, and the first check of a version starts a new segment."""
    points, before = [], None
    for check in history:
        counted = check["verdict"] != drift.NOT_ENOUGH_DATA
        points.append(
            {**check, "counted": counted, "rows_label": rows(check["rows"]), "new_version": check["version"] != before}
        )
        before = check["version"]
    return points


def rows(count: int) -> str:
    """1 row, 1,200 rows."""
    return f"{count:,} row{'' if count == 1 else 's'}"


def _quality_rows(entry: dict[str, Any]) -> dict[str, Any]:
    """One version's table: each metric's holdout score beside its live figure per window."""
    live = entry["live"]
    names = [n for n in ALL_METRICS if n in entry["holdout"] or any(n in w["metrics"] for w in live.values())]
    return {
        "version": entry["version"],
        "serving": entry["serving"],
        "labels": {window: figures["labels"] for window, figures in live.items()},
        "rows": [
            {
                "name": name,
                "holdout": entry["holdout"].get(name),
                "windows": [figures["metrics"].get(name) for figures in live.values()],
            }
            for name in names
        ],
    }


def _regression(deployment: Deployment) -> bool:
    return predlog.version_task(deployment.version, deployment.data_version).name == "regression"


def _mix(deployment: Deployment, now: datetime) -> dict[str, Any]:
    """Share of each predicted class for the served version over the last day, against the mix it
    predicted on its holdout."""
    served = selectors.class_mix(deployment.version, now - timedelta(days=1), now)
    holdout, why = selectors.holdout_mix(deployment.version)
    total, expected = sum(served.values()), sum((holdout or {}).values())
    classes = list(served) + [name for name in holdout or {} if name not in served]
    return {
        "version": deployment.version,
        "total": total,
        "holdout_rows": expected,
        "why_no_holdout": why,
        "rows": [
            {
                "name": name,
                "count": served.get(name, 0),
                "share": served.get(name, 0) / total if total else None,
                "holdout_share": holdout.get(name, 0) / expected if holdout and expected else None,
            }
            for name in classes
        ],
    }


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


def run_evidence(run: Any) -> dict[str, Any] | None:
    """Why a monitoring trigger started a run: the sentence, the drift check's per-feature table
    (the check's full report while it is kept, else the drifted features the run recorded) and
    the live quality figures."""
    evidence = run.evidence or {}
    if not evidence.get("summary"):
        return None
    drifted = evidence.get("drift")
    check = DriftCheck.objects.filter(pk=drifted.get("check_id")).first() if drifted else None
    if check is not None:
        rows = drift_rows(check.report)
    elif drifted:
        blank = {"kind": "", "missing_share": None, "reference_missing_share": None, "unseen": []}
        rows = [{**blank, "name": _label(name), **score, "drifted": True} for name, score in drifted["drifted"].items()]
    else:
        rows = []
    fell = evidence.get("degradation")
    return {
        "headline": f"Started by {run.trigger}: {evidence['summary']}",
        "champion_version": evidence.get("champion_version", ""),
        "drift": {**drifted, "since": _moment(drifted.get("since"))} if drifted else None,
        "check": check,
        "drift_rows": rows,
        "degradation": {**fell, "since": _moment(fell.get("since"))} if fell else None,
    }


def _moment(iso: str | None) -> datetime | None:
    """A time the evidence keeps as ISO text, for the template's date filter."""
    return datetime.fromisoformat(iso) if iso else None


def data_reading(run: Any) -> dict[str, Any] | None:
    """How a run read its data and what it took each column for, from the run's record:
    {"read_as": "CSV, separator ';', ...", "declared": file, "kinds": [(kind, ["name (origin)", ...])]}."""
    made = run.lineage or {}
    columns = (made.get("columns") or {}).get("columns") or {}
    if not columns:
        return None
    read_as = made.get("read_as") or {}
    said = [str(read_as.get("format") or "unknown format")]
    said += [f"{name} {read_as[name]!r}" for name in ("separator", "decimal") if read_as.get(name)]
    said += [f"{name} {read_as[name]}" for name in ("encoding", "files") if read_as.get(name)]
    kinds: dict[str, list[str]] = {}
    for name, spec in columns.items():
        kinds.setdefault(spec.get("kind", "unknown"), []).append(f"{name} ({spec.get('origin', 'unknown')})")
    return {
        "read_as": ", ".join(said),
        "declared": (made.get("declared") or {}).get("file") or "",
        "kinds": sorted(kinds.items()),
        "unlabelled_left_out": made.get("unlabelled_left_out"),
    }
