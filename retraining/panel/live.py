"""The dashboard's state in one dict: the page is rendered from it and its poll redraws every
part from it, so no two parts of the page can disagree about a run or the served model.

Each key is one part of the page (`run`, `recent`, `served`, `workers`, `chart`, `monitoring`); a part added later gets
a key of its own and the page a renderer for it. Every label a person reads (titles, durations,
dates) is written here, once, so the first render and every redraw say the same words.
"""

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince

from ml.drift import drift
from ml.gate import words
from ml.task import ALL_METRICS
from predictor.models import Deployment, DriftCheck
from retraining.models import RetrainingRun, TriggerSettings, WorkerHeartbeat
from retraining.panel import figures, selectors
from retraining.runs import store as run_store
from retraining.runs import wording
from retraining.workers import heartbeat as worker_store

RECENT_RUNS = 8


def dashboard_state(served: selectors.Served | None = None) -> dict[str, Any]:
    """The active run if there is one, else the newest; the newest runs; what is served; which
    workers are alive; the chart's stamp; the drift and quality badges."""
    recent = list(selectors.runs()[:RECENT_RUNS])
    active = run_store.active_run()
    latest = active or (recent[0] if recent else None)
    served = served or selectors.served()
    shown = served_state(served)
    workers = worker_store.liveness()
    return {
        "run": run_card(latest, workers) if latest else None,
        "recent": [run_row(run, workers) for run in recent],
        "served": shown,
        "workers": workers_state(workers, active),
        "chart": {"stamp": chart_stamp(shown, recent)},
        "monitoring": monitoring_state(served.deployment, timezone.now()),
    }


def monitoring_state(deployment: Deployment | None, now: datetime) -> dict[str, Any]:
    """The drift badge (the newest drift check) and the quality badge (the served version's live
    primary metric against its holdout score), each linking to the Monitoring page.

    Each badge is {"kind": "ok" | "warn" | "none", "text", "title"}."""
    return {
        "url": reverse("panel-monitoring"),
        "drift": drift_badge(selectors.newest_drift_check(), deployment, now),
        "quality": quality_badge(deployment, now),
    }


def drift_badge(check: DriftCheck | None, deployment: Deployment | None, now: datetime) -> dict[str, str]:
    """The newest check: Drift: none (12:04, 1,200 rows); Drift on tenure, contract (12:04, 1,200 rows);
    the version checked is named when it is no longer the one served."""
    if check is None:
        how = f"beat checks every {settings.MONITOR_INTERVAL} s, or run manage.py check_drift"
        return _badge("none", "Drift: no check yet", how)
    when = f"{_moment(check.checked_at, now)}, {figures.rows(check.rows)}"
    if deployment is not None and deployment.version != check.version:
        when = f"v{check.version}, {when}"
    title = f"v{check.version}, inputs logged since {_date(check.since, 'M j, H:i')}: {check.summary}"
    if check.verdict == drift.DRIFT:
        names = ", ".join(figures.PREDICTIONS_LABEL if n == drift.PREDICTIONS else n for n in check.drifted)
        return _badge("warn", f"Drift on {names} ({when})", title)
    if check.verdict == drift.NO_DRIFT:
        return _badge("ok", f"Drift: none ({when})", title)
    return _badge("none", f"Drift: {check.verdict} ({when})", title)


def quality_badge(deployment: Deployment | None, now: datetime) -> dict[str, str]:
    """Live accuracy 0.81 vs holdout 0.86 (340 labels), in the warning colour when the degradation
    trigger would call it fallen; Quality: waiting for labels (12 of 200)."""
    if deployment is None:
        return _badge("none", "Quality: no model served yet", "")
    metric = run_store.current_policy().primary_metric
    figure = figures.live_figure(deployment, metric, TriggerSettings.current(), now)
    window = f"labelled predictions of v{figure.version} since {_date(figure.since, 'M j, H:i')}"
    if figure.holdout is None:
        return _badge("none", f"Quality: v{figure.version} has no holdout {metric}", window)
    if figure.waiting:
        return _badge("none", f"Quality: waiting for labels ({figure.labels:,} of {figure.min_labels:,})", window)
    if figure.value is None:
        return _badge("none", f"Live {metric}: on the Monitoring page ({figure.labels:,} labels)", window)
    text = f"Live {metric} {figure.value:.2f} vs holdout {figure.holdout:.2f} ({figure.labels:,} labels)"
    interval = f"95% interval {figure.low:.3f} to {figure.high:.3f} over the {window}"
    if figure.fell:
        return _badge("warn", text, f"{interval}: below the holdout by more than the margin {figure.margin:g}")
    return _badge("ok", text, f"{interval}: within the margin {figure.margin:g} of the holdout")


def _badge(kind: str, text: str, title: str) -> dict[str, str]:
    return {"kind": kind, "text": text, "title": title}


def run_card(run: RetrainingRun, workers: worker_store.WorkerLiveness) -> dict[str, Any]:
    card = selectors.progress(run)
    card["title"] = "Latest run" if run.finished else "Run in progress"
    card["outcome"] = outcome(run)
    card["stalled"] = worker_store.stalled_reason(run, workers)
    return card


def outcome(run: RetrainingRun) -> str:
    """One sentence on how a finished run ended, for the card (the run's page has the rest)."""
    if not run.finished:
        return ""
    if run.status == RetrainingRun.Status.FAILED:
        return "Failed: the champion was not touched."
    label = run.get_status_display()
    if run.status == RetrainingRun.Status.DEPLOYED and run.model_version:
        label = f"Deployed v{run.model_version}"
    elif run.status == RetrainingRun.Status.KEPT and run.champion_version:
        label = f"Kept champion v{run.champion_version}"
    said = f"{label}: {run.reasons[0]}" if run.reasons else f"{label}."
    positive = wording.positive_sentence(run)
    return f"{said} {positive}" if positive else said


def run_row(run: RetrainingRun, workers: worker_store.WorkerLiveness) -> dict[str, Any]:
    """A row of the runs table, as the dashboard and the runs page both show it; a queued run
    waiting for a worker that is not there says so where its decision will be."""
    if run.duration is not None:
        duration = seconds(run.duration)
    elif not run.finished:
        duration = f"{run.step or run.status}…"
    else:
        duration = ""
    stalled = worker_store.stalled_reason(run, workers)
    if stalled:
        decision = {"kind": "stalled", "text": stalled}
    elif run.decision_rule:
        decision = {"kind": "rule", "text": words.decision(run.decision_rule, run.status, run.comparison)}
    elif run.error or run.reasons:
        decision = {"kind": "note", "text": _shorten(run.error or run.reasons[0], 60)}
    else:
        decision = {"kind": "", "text": ""}
    return {
        "id": run.pk,
        "url": reverse("panel-run", args=[run.pk]),
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": run.finished,
        "trigger_label": run.get_trigger_display(),
        "by": run.triggered_by.get_username() if run.triggered_by else "",
        "started": run.created_at.isoformat(),
        "started_label": _date(run.created_at, "M j, H:i"),
        "duration_label": duration,
        "challenger": f"v{run.model_version}" if run.model_version else "",
        "decision": decision,
    }


def served_state(served: selectors.Served) -> dict[str, Any]:
    """The served bar and the served model's card: the deployment and every serving process."""
    state = served.as_dict()
    d = served.deployment
    if d is None:
        return state
    data = d.data_version or {}
    state.update(
        model_name=d.model_name,
        source=d.source,
        source_label=d.get_source_display(),
        since_label=_date(d.created_at, "M j, H:i"),
        since_full=_date(d.created_at, "M j, Y H:i"),
        since_ago=timesince(d.created_at),
        # Only the model's holdout scores: rows recorded before they were filtered may carry more.
        metrics={name: d.metrics[name] for name in ALL_METRICS if isinstance(d.metrics.get(name), int | float)},
        data={
            "path": data.get("path", ""),
            "rev": str(data.get("rev", ""))[:10],
            "md5": str(data.get("md5", "")),
            "rows": (data.get("rows") or {}).get("total"),
        }
        if data
        else None,
    )
    errors = {p.name: p.error for p in served.processes}
    for process in state["process_list"]:
        process["error"] = _shorten(errors.get(process["name"], ""), 60)
    return state


def workers_state(workers: worker_store.WorkerLiveness, active: RetrainingRun | None) -> dict[str, Any]:
    """The header's worker health: how many workers are alive and the run one of them is running,
    or since when none is (queued runs wait until one is back). `parts` are text and links, in order.

    A run is named only while it is the active run: a worker's heartbeat can still list a run for
    a few seconds after it ended, and the header must not call a finished run running.
    """
    title = "; ".join(
        f"{w.hostname}: {_worker_state(w)}, last heartbeat {_date(w.last_heartbeat, 'M j, H:i:s')}"
        for w in workers.workers
    )
    cut_off = workers.alive - workers.consuming
    if workers.retrain_queue_served:
        text = f"{workers.alive} worker{'' if workers.alive == 1 else 's'} alive"
        if cut_off:
            text += f", {cut_off} {_NOT_CONSUMING}"
        running = {item.get("run_id") for w in workers.workers for item in w.running}
        told = [{"text": f"; {workers.setup_disagreement}"}] if workers.setup_disagreement else []
        if active is not None and active.pk in running:
            link = {"text": f"run #{active.pk}", "url": reverse("panel-run", args=[active.pk])}
            return {"state": "alive", "parts": [{"text": f"{text}, running "}, link, *told], "title": title}
        return {"state": "alive", "parts": [{"text": text}, *told], "title": title}
    if workers.alive and not workers.consuming:
        text = f"{workers.alive} worker{'' if workers.alive == 1 else 's'} alive, {_NOT_CONSUMING}"
    elif workers.alive:
        text = (
            f"{workers.alive} worker{'' if workers.alive == 1 else 's'} alive, none on queue {workers.retrain_queue!r}"
        )
    else:
        last = _last_heartbeat(workers)
        if last is None:
            never = "no worker has ever reported: queued runs will wait"
            return {"state": "never", "parts": [{"text": never}], "title": "start one: celery -A config worker"}
        text = f"no worker alive since {_moment(last, workers.checked_at)}"
    return {"state": "down", "parts": [{"text": f"{text}: queued runs will wait"}], "title": title}


_NOT_CONSUMING = "not consuming (cannot reach its broker)"


def _worker_state(worker: worker_store.WorkerStatus) -> str:
    if worker.alive:
        return "alive" if worker.consuming else f"alive, {_NOT_CONSUMING}"
    return "stopped" if worker.stopped_at else "silent"


def _last_heartbeat(workers: worker_store.WorkerLiveness) -> datetime | None:
    """The newest heartbeat; liveness lists only the last day's workers, so older ones are read here."""
    if workers.workers:
        return max(w.last_heartbeat for w in workers.workers)
    return WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()


def _moment(moment: datetime, now: datetime) -> str:
    """05:02 today, Nov 28, 05:02 on another day."""
    same_day = timezone.localtime(moment).date() == timezone.localtime(now).date()
    return _date(moment, "H:i" if same_day else "M j, H:i")


def chart_stamp(served: dict[str, Any], recent: list[RetrainingRun]) -> str:
    """Changes whenever the chart would: a new deployment, or a newest run gaining a challenger
    or an outcome. The page fetches the chart's data again only then."""
    parts = [str(served["deployment"])]
    parts += [f"{run.pk}.{run.status}.{bool(run.challenger_metrics)}" for run in recent]
    return hashlib.blake2s("|".join(parts).encode(), digest_size=8).hexdigest()


def seconds(value: float) -> str:
    """A duration as people read it: 0.31 s, 4.2 s, 3 min 5 s."""
    if value < 1:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {round(value % 60)} s"


def _date(moment: Any, pattern: str) -> str:
    return date_format(timezone.localtime(moment), pattern)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
