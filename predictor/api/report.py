"""GET /api/v1/monitoring: what the served models do in production, for staff and scripts.

The report is a list of sections, each built by one function over the prediction log; a new
section (drift) is one more entry in SECTIONS. Who may read it: a staff session or the
RETRAIN_API_TOKEN bearer, as for the runs API (predictor/api/access.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictor import predlog
from predictor.api.access import RetrainTokenAuthentication, StaffOrToken
from predictor.models import Deployment, DriftCheck
from predictor.predlog import budget

QUALITY_WINDOWS = {"last_day": timedelta(days=1), "last_7_days": timedelta(days=7)}
# Checks listed in the drift history (newest first): a day of checks at the default interval is 1,440.
DRIFT_HISTORY = 200


def log_section(now: datetime) -> dict[str, Any]:
    """How the log is kept, and what this process's writer did (other processes keep their own)."""
    stats = predlog.writer().stats
    return {
        "sample": settings.PREDICTION_LOG_SAMPLE,
        "retention_days": settings.PREDICTION_LOG_DAYS,
        # Rows allowed, rows at the last check, the share of new predictions kept and its changes:
        # a count of predictions logged under a share s, divided by s times `sample`, estimates
        # what was served.
        "budget": budget.report(),
        "this_process": {name: getattr(stats, name) for name in stats.__dataclass_fields__},
        # Labels sent before their prediction was written: waiting for it, and dropped unapplied.
        "feedback": predlog.held_counts(now),
    }


def volume_section(now: datetime) -> dict[str, Any]:
    return predlog.prediction_volume(now)


def quality_section(now: datetime) -> list[dict[str, Any]]:
    """Per version seen in the last 7 days (and the one deployed now): live metrics over each
    window next to the metrics its holdout gave when it was deployed."""
    versions = predlog.versions_logged(now - QUALITY_WINDOWS["last_7_days"], now)
    newest = Deployment.objects.order_by("-id").first()
    if newest is not None:
        versions.add(newest.version)
    report = []
    for version in sorted(versions, key=_version_order, reverse=True):
        deployment = Deployment.objects.filter(version=version).order_by("-id").first()
        report.append(
            {
                "version": version,
                "serving": newest is not None and newest.version == version,
                "holdout": deployment.metrics if deployment else {},
                "live": predlog.windows_live_metrics(
                    version, {name: now - span for name, span in QUALITY_WINDOWS.items()}, now
                ),
            }
        )
    return report


def drift_section(now: datetime) -> dict[str, Any]:
    """The newest drift check in full (per-feature scores, the verdict, the prediction mix), and the
    history of the last checks as per-feature PSI, for drawing drift over time."""
    checks = list(DriftCheck.objects.filter(checked_at__lte=now)[:DRIFT_HISTORY])
    latest = checks[0] if checks else None
    return {
        "latest": _check(latest, full=True) if latest else None,
        "history": [_check(check, full=False) for check in checks],
    }


def _check(check: DriftCheck, *, full: bool) -> dict[str, Any]:
    shown = {
        "checked_at": check.checked_at.isoformat(),
        "version": check.version,
        "since": check.since.isoformat(),
        "rows": check.rows,
        "verdict": check.verdict,
        "drifted": check.drifted,
        "summary": check.summary,
    }
    if full:
        return {**shown, **{k: check.report.get(k) for k in ("thresholds", "features", "predictions")}}
    psi = {name: score.get("psi") for name, score in check.report.get("features", {}).items()}
    predictions = check.report.get("predictions")
    if predictions:
        psi["predictions"] = predictions.get("psi")
    return {**shown, "psi": psi}


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


# (key in the report, the function that builds it).
SECTIONS: list[tuple[str, Callable[[datetime], Any]]] = [
    ("prediction_log", log_section),
    ("volume", volume_section),
    ("quality", quality_section),
    ("drift", drift_section),
]


def report(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {"generated_at": now.isoformat(), **{key: build(now) for key, build in SECTIONS}}


_METRIC = {
    "type": "object",
    "properties": {"value": {"type": "number"}, "low": {"type": "number"}, "high": {"type": "number"}},
    "description": "the metric and its 95% interval (Wilson for accuracy, bootstrap for the others)",
}
_LIVE = {
    "type": "object",
    "properties": {
        "version": {"type": "string"},
        "since": {"type": "string", "format": "date-time"},
        "labels": {"type": "integer", "description": "labelled predictions in the window"},
        "metrics": {"type": "object", "additionalProperties": _METRIC},
    },
}
REPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "generated_at": {"type": "string", "format": "date-time"},
        "prediction_log": {"type": "object", "additionalProperties": True},
        "volume": {
            "type": "object",
            "description": "predictions logged per version in the last hour, day and 7 days",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "drift": {
            "type": "object",
            "description": "the newest drift check of logged inputs against the champion's training profile "
            "(per-feature PSI, chi-square p-value, missing share, unseen categories, the verdict), and the "
            "last checks' per-feature PSI",
            "properties": {
                "latest": {"type": "object", "nullable": True, "additionalProperties": True},
                "history": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            },
        },
        "quality": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "version": {"type": "string"},
                    "serving": {"type": "boolean"},
                    "holdout": {"type": "object", "additionalProperties": {"type": "number"}},
                    "live": {"type": "object", "additionalProperties": _LIVE},
                },
            },
        },
    },
}


class MonitoringView(APIView):
    authentication_classes = [RetrainTokenAuthentication, SessionAuthentication]
    permission_classes = [StaffOrToken]

    @extend_schema(
        operation_id="monitoring",
        tags=["monitoring"],
        responses={
            200: OpenApiResponse(REPORT_SCHEMA, description="The monitoring report."),
            401: OpenApiResponse(description="No credentials, or a wrong token."),
            403: OpenApiResponse(description="Signed in, but not staff."),
        },
    )
    def get(self, request: Request) -> Response:
        """Prediction volume per version, live quality per version (last day, last 7 days) with a
        95% interval next to the version's holdout metrics, and drift of the logged inputs from
        the champion's training data (the newest check in full, and the history)."""
        return Response(report())
