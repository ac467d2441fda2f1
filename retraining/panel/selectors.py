"""What the panel shows, read in one place so views stay thin and the JSON matches the HTML."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from ml.gate import words
from ml.gate.policy import GUARD_METRICS
from ml.task import REGRESSION
from predictor import services
from predictor.models import Deployment, DriftCheck, HourVolume, Prediction, ServingProcess
from predictor.predlog import rollups
from predictor.serving import registry
from retraining.models import MONITORING_TRIGGERS, RetrainingRun, TriggerSettings
from retraining.pipeline.flow import STEP_NAMES
from retraining.runs.listing import RunFilter

logger = logging.getLogger(__name__)

# A serving process reports every few seconds; one silent for longer is gone (stopped or killed).
PROCESS_SILENCE = timedelta(seconds=60)


@dataclass
class Served:
    deployment: Deployment | None
    processes: list[ServingProcess] = field(default_factory=list)

    @property
    def lagging(self) -> list[ServingProcess]:
        if self.deployment is None:
            return []
        return [p for p in self.processes if p.version != self.deployment.version]

    @property
    def all_switched(self) -> bool:
        return bool(self.processes) and not self.lagging

    def as_dict(self) -> dict[str, Any]:
        d = self.deployment
        return {
            "version": d.version if d else None,
            "deployment": d.pk if d else None,
            "since": d.created_at.isoformat() if d else None,
            "processes": len(self.processes),
            "switched": len(self.processes) - len(self.lagging),
            "all_switched": self.all_switched,
            "process_list": [
                {"name": p.name, "version": p.version, "on_served": d is not None and p.version == d.version}
                for p in self.processes
            ],
        }


def served() -> Served:
    recent = timezone.now() - PROCESS_SILENCE
    return Served(services.active_deployment(), list(ServingProcess.objects.filter(seen_at__gte=recent)))


def runs(wanted: RunFilter | None = None) -> QuerySet[RetrainingRun]:
    found = RetrainingRun.objects.select_related("triggered_by").order_by("-id")
    return (wanted or RunFilter()).runs(found)


def progress(run: RetrainingRun) -> dict[str, Any]:
    """A run's live state for the polling script: every step, including those still to come."""
    recorded = {step["name"]: step for step in run.steps}
    steps = [
        {
            "name": name,
            "status": recorded.get(name, {}).get("status", "pending"),
            "duration": recorded.get(name, {}).get("duration"),
            "detail": recorded.get(name, {}).get("detail", ""),
        }
        for name in STEP_NAMES
    ]
    for step in steps:
        if run.finished and step["status"] == "pending":
            step["status"] = "skipped"
        step["time_label"] = _step_time(step)
        # A step that found nothing to do ended the run as it should: neither an error nor a warning.
        step["tone"] = "neutral" if step["status"] == "stopped" and run.status == RetrainingRun.Status.SKIPPED else ""
    return {
        "id": run.pk,
        "url": reverse("panel-run", args=[run.pk]),
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": run.finished,
        "step": run.step,
        "steps": steps,
        "duration": run.duration,
        "error": run.error,
    }


def _step_time(step: dict[str, Any]) -> str:
    if step["status"] == "running":
        return "running…"
    return f"{step['duration']:.2f} s" if step["duration"] is not None else ""


def metric_rows(run: RetrainingRun) -> list[dict[str, Any]]:
    """Champion and challenger side by side, with the challenger's delta."""
    names = list(dict.fromkeys([*GUARD_METRICS, *run.challenger_metrics, *run.champion_metrics]))
    rows = []
    for name in names:
        new, old = run.challenger_metrics.get(name), run.champion_metrics.get(name)
        if new is None and old is None:
            continue
        delta = new - old if new is not None and old is not None else None
        rows.append({"name": name, "challenger": new, "champion": old, "delta": delta})
    return rows


def mlflow_links(run: RetrainingRun) -> dict[str, str]:
    """Links into the MLflow UI when one is configured; MLflow being down never breaks the page."""
    if not settings.MLFLOW_UI_URL:
        return {}
    links = {}
    try:
        if run.mlflow_run_id:
            links["run"] = registry.run_url(run.mlflow_run_id)
        if run.model_version:
            links["version"] = registry.version_url(run.model_version)
    except Exception:
        logger.warning("MLflow links for run #%s unavailable", run.pk, exc_info=True)
    return links


def chart_series(limit: int = 500) -> dict[str, Any]:
    """Every metric over time, as the decisions saw it.

    `champion` is the line: a version's score on its own holdout when it was deployed, then its
    score on each later run's holdout, the figure that run's decision compared the challenger
    with. `challengers` are the runs' challengers, with the decision's own figures for the
    tooltip; a challenger has no outcome (`pending`) until its run has finished.
    """
    deployments = [
        {
            "t": d.created_at.isoformat(),
            "version": d.version,
            "source": d.get_source_display(),
            "metrics": d.metrics,
            "run": None,
        }
        for d in Deployment.objects.order_by("-id")[:limit]
    ]
    runs = list(RetrainingRun.objects.exclude(challenger_metrics={}).order_by("-id")[:limit])
    challengers = [_challenger_point(r) for r in runs]
    judged = [
        {
            "t": (r.finished_at or r.created_at).isoformat(),
            "version": r.champion_version,
            "source": f"scored on run #{r.pk}'s holdout",
            "metrics": r.champion_metrics,
            "run": r.pk,
        }
        for r in runs
        if r.champion_version and r.champion_metrics
    ]
    recorded: list[str] = []
    for point in [*deployments, *challengers]:
        recorded += [n for n in point["metrics"] if n not in recorded and isinstance(point["metrics"][n], int | float)]
    # A regression's history shows its own metrics first; otherwise the classification's, as ever.
    first = REGRESSION.metrics if recorded and not set(recorded) & set(GUARD_METRICS) else GUARD_METRICS
    names = [*first, *(n for n in recorded if n not in first)]
    return {
        "metrics": names,
        # Drawn with "lower is better" on the axis.
        "lower_is_better": sorted(REGRESSION.lower_is_better),
        "deployments": deployments[::-1],
        "champion": sorted([*deployments, *judged], key=lambda point: point["t"]),
        "challengers": challengers[::-1],
    }


def _challenger_point(run: RetrainingRun) -> dict[str, Any]:
    """A run's challenger: its outcome once the run has finished, and the decision's own figures
    (both models on the same holdout rows, the sentence of the rule that decided)."""
    compared = (run.comparison or {}).get("rows") or (run.holdout_exclusion or {}).get("clean")
    return {
        "t": (run.finished_at or run.created_at).isoformat(),
        "version": run.model_version,
        "run": run.pk,
        "url": reverse("panel-run", args=[run.pk]),
        "status": run.status,
        "outcome": run.status if run.finished else "pending",
        "metrics": run.challenger_metrics,
        "champion_version": run.champion_version,
        "champion_metrics": run.champion_metrics,
        "rows": compared,
        "decision": words.decision(run.decision_rule, run.status, run.comparison) if run.finished else "",
    }


def newest_drift_check() -> DriftCheck | None:
    return DriftCheck.objects.order_by("-checked_at").first()


def hourly_volume(now: datetime, hours: int = 24) -> dict[str, Any]:
    """Predictions logged per hour and version over the last `hours` hours, every hour listed
    (oldest first, empty hours as 0): the whole hours from the rollups (a few rows an hour, and kept
    when the log's rows are pruned), the hour `now` is in from the rows."""
    current = rollups.hour_of(now)
    slots = [timezone.localtime(current - timedelta(hours=k)) for k in range(hours - 1, -1, -1)]
    counts: dict[str, dict[datetime, int]] = {}
    whole = HourVolume.objects.filter(hour__gte=slots[0], hour__lt=current).values_list("hour", "version", "logged")
    for hour, version, n in whole:
        counts.setdefault(version, {})[hour] = n
    partial = Prediction.objects.filter(created_at__gte=current, created_at__lte=now).values_list("model_version")
    for version, n in partial.annotate(n=Count("id")).order_by():
        counts.setdefault(version, {})[current] = n
    return {
        "hours": [slot.isoformat() for slot in slots],
        "versions": {version: [by_hour.get(slot, 0) for slot in slots] for version, by_hour in counts.items()},
    }


def class_mix(version: str, since: datetime, now: datetime | None = None) -> dict[str, int]:
    """How many predictions of `version` since a time said each class, most frequent first: the whole
    hours from the rollups, the partial ones at either end from the rows."""
    rows = Prediction.objects.filter(model_version=version)
    rows, start, end = rollups.edges(rows, since, now or timezone.now())
    counts = rollups.classes_between(version, start, end) if start < end else {}
    for predicted, n in rows.values_list("prediction").annotate(n=Count("id")).order_by():
        counts[predicted] = counts.get(predicted, 0) + n
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def holdout_mix(version: str) -> tuple[dict[str, int] | None, str]:
    """The class mix a version predicted on its holdout (its training profile), and why not when
    there is none: MLflow being down never breaks the page."""
    try:
        found = registry.profile(version)
    except registry.RegistryError as exc:
        logger.warning("holdout class mix unavailable: %s", exc)
        return None, f"the training profile could not be read ({exc})"
    predictions = (found or {}).get("predictions")
    if not predictions:
        return None, f"v{version} was logged without a holdout prediction profile"
    return dict(predictions.get("counts", {})), ""


def trigger_state(triggers: TriggerSettings, now: datetime) -> dict[str, Any]:
    """The newest run each monitoring trigger started, and when the next one may start: the
    cool-down is shared by both triggers (retraining/monitoring/triggers.py `start`)."""
    last = [
        {"label": RetrainingRun.Trigger(trigger).label, "run": RetrainingRun.objects.filter(trigger=trigger).first()}
        for trigger in MONITORING_TRIGGERS
    ]
    started = [entry["run"].created_at for entry in last if entry["run"] is not None]
    until = max(started) + timedelta(hours=triggers.cooldown_hours) if started else None
    return {
        "settings": triggers,
        "last": last,
        "cooling_until": until if until and until > now else None,
        "degradation_rule": degradation_rule(triggers),
    }


def degradation_rule(triggers: TriggerSettings) -> str:
    """When the degradation trigger fires, in one sentence (retraining/monitoring/triggers.py)."""
    return (
        f"live quality more than {triggers.degradation_margin:g} below the holdout score (upper 95% bound), "
        f"judged on at least {triggers.min_labels:,} labels; the labels given by at least "
        f"{triggers.min_label_sources} sources (API keys, or client addresses when keys are off) and on more "
        f"than {triggers.min_label_share * 100:g}% of the window's logged predictions"
    )


def deployment_rows(deployments: list[Deployment]) -> list[dict[str, Any]]:
    """The Deployments page's rows: who made each change (the pipeline, a person, serving itself or
    the registry), why in one line, and links to its run and to its MLflow model version. The runs
    are read in one query for the whole page."""
    made_by = {
        run.deployment_id: run
        for run in RetrainingRun.objects.filter(deployment__in=deployments).select_related("triggered_by")
    }
    return [_deployment_row(d, made_by.get(d.pk)) for d in deployments]


def _deployment_row(deployment: Deployment, run: RetrainingRun | None) -> dict[str, Any]:
    source = Deployment.Source
    person = deployment.created_by.get_username() if deployment.created_by else ""
    if deployment.source in (source.PIPELINE, source.BOOTSTRAP):
        actor = "the pipeline"
    elif deployment.source == source.AUTO_ROLLBACK:
        actor = "serving (automatic rollback)"
    elif deployment.source == source.REGISTRY:
        actor = "the registry (alias moved in MLflow)"
    else:
        actor = person or "a person"
    if run is not None and run.decision_rule:
        line = words.decision(run.decision_rule, RetrainingRun.Status.DEPLOYED, run.comparison)
    else:
        line = deployment.reason.split("; ")[0].strip()
    started = run.triggered_by.get_username() if run is not None and run.triggered_by else ""
    return {
        "deployment": deployment,
        "actor": actor,
        # For a pipeline deployment the person only started the run; the pipeline decided.
        "started_by": started if run is not None else "",
        "reason": _one_line(line),
        "reason_full": deployment.reason,
        "run": {"id": run.pk, "url": reverse("panel-run", args=[run.pk])} if run is not None else None,
        "mlflow_url": registry.version_url(deployment.version),
    }


def _one_line(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
