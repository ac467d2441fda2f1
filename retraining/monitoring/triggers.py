"""Watching live serving: the drift and degradation triggers, Google's "level 1" last two.

Every MONITOR_INTERVAL seconds beat runs `watch` (and `manage.py check_drift` runs it now):

- drift: the champion's recent logged inputs against its training profile (predictor/drift_check.py),
  recorded as a DriftCheck row whatever the verdict;
- degradation: the champion's live primary metric (the policy's) on its labelled predictions over
  QUALITY_WINDOW_DAYS against the score its holdout gave at deployment. It counts as fallen only
  with at least `min_labels` labels and when the upper end of the live metric's 95% interval is
  below the holdout score minus the margin: a one-sided test at 2.5%, so a champion serving as
  well as its holdout said starts no run by chance more than that, however often it is checked.
  A fall starts a run only when its labels are ones a single client could not have given alone:
  from at least `min_label_sources` sources (who gave each prediction's newest label: an API key,
  or a client address when keys are off) and on more than `min_label_share` of the window's logged
  predictions. Otherwise the figure is still reported, with why the trigger held back.

Either, when its trigger is on (TriggerSettings, edited in the panel), starts a run with trigger
`drift` or `degradation` and the evidence recorded on it, at most one such run per cool-down.
One exception: when the last such run found nothing new to learn from and asked for data, data
published since then starts the next run at once (the team did what the run asked).
The cool-down is checked and the run created under a lock on the settings row, so two beat
deliveries at once still make one run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ml.drift import drift
from ml.task import REGRESSION
from predictor import predlog
from predictor.drift_check import DriftCheckError, check_log
from predictor.models import Deployment, DriftCheck
from retraining import data, services
from retraining.models import MONITORING_TRIGGERS, RetrainingRun, TriggerSettings
from retraining.pipeline import feedback
from retraining.runs import store

logger = logging.getLogger(__name__)
Trigger = RetrainingRun.Trigger


@dataclass(frozen=True)
class Quality:
    """The champion's live primary metric against its holdout score, and whether it fell."""

    version: str
    metric: str
    labels: int
    since: datetime
    holdout: float | None
    live: float | None = None
    low: float | None = None
    high: float | None = None
    margin: float = 0.0
    fell: bool = False
    # Why it is not judged, when it is not ("12 labels of the 200 needed").
    not_judged: str = ""
    # Who gave the labels, and the share of the window's logged predictions they cover (read only
    # when quality fell), and why a fall starts no run ("labels from 1 source; at least 2 needed").
    sources: int | None = None
    share: float | None = None
    held_back: str = ""

    def summary(self) -> str:
        if self.not_judged:
            return f"live quality of v{self.version} not judged: {self.not_judged}"
        shown = f"live {self.metric} {self.live:.3f} (95% {self.low:.3f}-{self.high:.3f}, {self.labels} labels)"
        if self.fell:
            fallen = f"{shown} fell below v{self.version}'s holdout {self.holdout:.3f} by more than {self.margin:g}"
            return f"{fallen}; the degradation trigger holds back: {self.held_back}" if self.held_back else fallen
        return f"{shown} against v{self.version}'s holdout {self.holdout:.3f}: within the margin {self.margin:g}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "metric": self.metric,
            "labels": self.labels,
            "since": self.since.isoformat(),
            "holdout": self.holdout,
            "live": self.live,
            "low": self.low,
            "high": self.high,
            "margin": self.margin,
            "fell": self.fell,
            "not_judged": self.not_judged,
            "sources": self.sources,
            "share": self.share,
            "held_back": self.held_back,
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class Watch:
    """What one look found and did."""

    checked_at: datetime
    drift: DriftCheck | None = None
    quality: Quality | None = None
    run: RetrainingRun | None = None
    # Whether `run` was started by this look (False: the cool-down or a run in progress stopped it).
    started: bool = False
    notes: list[str] = field(default_factory=list)


def watch(now: datetime | None = None) -> Watch:
    """Check drift and live quality of the champion, and start a run if a trigger says so."""
    now = now or timezone.now()
    try:
        checked = check_log(now)
    except DriftCheckError as exc:
        return Watch(checked_at=now, notes=[str(exc)])
    triggers = TriggerSettings.current()
    quality = judge_quality(checked.version, triggers, now)
    evidence: dict[str, Any] = {}
    if checked.verdict == drift.DRIFT and triggers.drift_enabled:
        evidence["drift"] = drift_evidence(checked)
    if quality.fell and not quality.held_back and triggers.degradation_enabled:
        evidence["degradation"] = quality.as_dict()
    notes = [f"drift: {checked.summary}", quality.summary()]
    if not evidence:
        if quality.held_back:
            # Someone may be feeding wrong labels: worth a line in the log, though no run starts.
            logger.warning("watch: %s", quality.summary())
        return Watch(checked_at=now, drift=checked, quality=quality, notes=notes)
    trigger = Trigger.DRIFT if "drift" in evidence else Trigger.DEGRADATION
    evidence["summary"] = "; ".join(
        _short(kind, evidence[kind]) for kind in ("drift", "degradation") if kind in evidence
    )
    evidence["champion_version"] = checked.version
    run, started, why = start(trigger, evidence, triggers.cooldown_hours, now)
    notes.append(why)
    logger.info("watch: %s", "; ".join(notes))
    return Watch(checked_at=now, drift=checked, quality=quality, run=run, started=started, notes=notes)


def judge_quality(version: str, triggers: TriggerSettings, now: datetime) -> Quality:
    metric = store.current_policy().primary_metric
    deployed = Deployment.objects.filter(version=version).order_by("-id").first()
    task = predlog.version_task(version, deployed.data_version if deployed is not None else None)
    if metric not in task.metrics:
        metric = task.primary  # a regression under a policy written for classification: RMSE
    since = quality_since(deployed, now)
    holdout = (deployed.metrics or {}).get(metric) if deployed is not None else None
    # The one metric judged, from the confusion counts where it can be: one GROUP BY every interval.
    live = predlog.live_metric(version, since, metric)
    base = {"version": version, "metric": metric, "labels": live["labels"], "since": since, "holdout": holdout}
    if holdout is None:
        return Quality(**base, not_judged=f"v{version} has no holdout {metric} to compare with")
    if live["labels"] < triggers.min_labels:
        return Quality(**base, not_judged=f"{live['labels']} labels of the {triggers.min_labels} needed")
    scored = live["metric"]
    if scored is None:
        return Quality(**base, not_judged=f"{metric} cannot be computed on the labelled predictions")
    fallen = fell(scored, holdout, triggers.degradation_margin, task.higher_is_better(metric))
    return Quality(
        **base,
        live=scored["value"],
        low=scored["low"],
        high=scored["high"],
        margin=triggers.degradation_margin,
        fell=fallen,
        **(label_trust(version, since, live["labels"], triggers) if fallen else {}),
    )


def label_trust(version: str, since: datetime, labels: int, triggers: TriggerSettings) -> dict[str, Any]:
    """{"sources", "share", "held_back"}: how many sources gave the window's labels, the share of
    its logged predictions they cover, and why they are not enough to start a run ("" when they
    are). Both counts are of logged rows, so a sampled log changes neither the share nor the rule."""
    sources = len(predlog.label_sources(version, since))
    logged = predlog.logged_count(version, since)
    share = labels / logged if logged else 0.0
    held_back = ""
    if sources < triggers.min_label_sources:
        noun = "source" if sources == 1 else "sources"
        held_back = f"labels from {sources} {noun}; at least {triggers.min_label_sources} needed"
    elif not share > triggers.min_label_share:
        held_back = (
            f"labels on {share:.1%} of the window's {logged:,} predictions; "
            f"more than {triggers.min_label_share:.1%} needed"
        )
    return {"sources": sources, "share": share, "held_back": held_back}


def fell(scored: dict[str, float], holdout: float, margin: float, higher_is_better: bool = True) -> bool:
    """Whether a live metric ({"value", "low", "high"}, 95% interval) is significantly more than
    `margin` below the holdout score: one-sided at 2.5%. The holdout score is an estimate too; a
    margin of a few points covers its noise (at 0, a holdout that came out high by chance would
    raise false alarms a little above 2.5%). An error (RMSE, MAE) worsens upwards, and has no fixed
    scale: it has fallen when it is significantly more than `margin` (relative) above the holdout's."""
    if not higher_is_better:
        return scored["low"] > holdout * (1 + margin)
    return scored["high"] < holdout - margin


def quality_since(deployed: Deployment | None, now: datetime) -> datetime:
    """Where live quality is judged from: QUALITY_WINDOW_DAYS back, never before the deployment.
    The trigger and the dashboard's badge read the same window."""
    since = now - timedelta(days=settings.QUALITY_WINDOW_DAYS)
    return max(since, deployed.created_at) if deployed is not None else since


def drift_evidence(checked: DriftCheck) -> dict[str, Any]:
    features = checked.report.get("features", {})
    scores = {**features, drift.PREDICTIONS: checked.report.get(drift.PREDICTIONS) or {}}
    return {
        "check_id": checked.pk,
        "version": checked.version,
        "rows": checked.rows,
        "since": checked.since.isoformat(),
        "drifted": {
            name: {"psi": scores[name].get("psi"), "p_value": scores[name].get("p_value")} for name in checked.drifted
        },
        "summary": checked.summary,
    }


def _short(kind: str, evidence: dict[str, Any]) -> str:
    """ "inputs drifted on tenure and contract" / "live accuracy fell to 0.712 (holdout 0.861)"."""
    if kind == "drift":
        names = [name for name in evidence["drifted"] if name != drift.PREDICTIONS]
        what = f"inputs drifted on {_and(names)}" if names else "the prediction mix drifted"
        if names and drift.PREDICTIONS in evidence["drifted"]:
            what += ", and so did the prediction mix"
        return what
    moved = "rose" if evidence["metric"] in REGRESSION.lower_is_better else "fell"
    return f"live {evidence['metric']} {moved} to {evidence['live']:.3f} (holdout {evidence['holdout']:.3f})"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def start(
    trigger: str, evidence: dict[str, Any], cooldown_hours: float, now: datetime
) -> tuple[RetrainingRun | None, bool, str]:
    """(the run, whether it was started now, why) under the cool-down."""
    with transaction.atomic():
        TriggerSettings.objects.select_for_update().filter(pk=1).first()
        recent = (
            RetrainingRun.objects.filter(
                trigger__in=MONITORING_TRIGGERS, created_at__gt=now - timedelta(hours=cooldown_hours)
            )
            .order_by("-id")
            .first()
        )
        fresh = (new_data_since(recent) or labels_to_publish()) if recent is not None else ""
        if recent is not None and not fresh:
            until = recent.created_at + timedelta(hours=cooldown_hours)
            why = (
                f"cool-down: run #{recent.pk} ({recent.trigger}) started {recent.created_at:%Y-%m-%d %H:%M}; "
                f"next possible after {until:%Y-%m-%d %H:%M %Z}"
            )
            return recent, False, why
        if fresh:
            evidence = {**evidence, "new_data": fresh}
        run, created = services.trigger_run(trigger, evidence=evidence)
    if not created:
        return run, False, f"run #{run.pk} is already in progress ({run.status})"
    return run, True, f"started run #{run.pk} ({trigger}): {evidence['summary']}"


def new_data_since(run: RetrainingRun) -> str:
    """What changed, when `run` ended asking for data and data was published since; else ""."""
    if run.status != RetrainingRun.Status.SKIPPED or not run.evidence or not run.dataset.get("md5"):
        return ""
    try:
        version = data.source_from_settings().version()
    except data.DataError as exc:
        logger.warning("watch: could not read the data version: %s", exc)
        return ""
    if version.md5 == run.dataset["md5"]:
        return ""
    return f"data {version.md5} published since run #{run.pk} asked for it"


def labels_to_publish() -> str:
    """With automatic publishing on, enough labelled predictions not published yet: data a run can
    publish and learn from, so the cool-down does not hold the loop back until tomorrow; else ""."""
    triggers = TriggerSettings.current()
    if not triggers.publish_feedback or not settings.FEEDBACK_REQUIRES_KEY:
        return ""
    try:
        waiting = feedback.waiting(feedback.published_ids())
    except data.DataError as exc:
        logger.warning("watch: could not read what feedback is published: %s", exc)
        return ""
    if waiting < triggers.feedback_min_labels:
        return ""
    return f"{waiting} labelled predictions to publish (automatic publishing needs {triggers.feedback_min_labels})"
