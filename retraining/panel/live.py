"""The dashboard's state in one dict: the page is rendered from it and its poll redraws every
part from it, so no two parts of the page can disagree about a run or the served model.

Each key is one part of the page (`run`, `recent`, `served`, `chart`); a part added later gets
a key of its own and the page a renderer for it. Every label a person reads (titles, durations,
dates) is written here, once, so the first render and every redraw say the same words.
"""

import hashlib
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince

from predictor.contract import METRICS as MODEL_METRICS
from retraining import runs as run_store
from retraining.models import RetrainingRun
from retraining.panel import selectors

RECENT_RUNS = 8


def dashboard_state(served: selectors.Served | None = None) -> dict[str, Any]:
    """The active run if there is one, else the newest; the newest runs; what is served; the chart's stamp."""
    recent = list(selectors.runs()[:RECENT_RUNS])
    latest = run_store.active_run() or (recent[0] if recent else None)
    served = served_state(served or selectors.served())
    return {
        "run": run_card(latest) if latest else None,
        "recent": [run_row(run) for run in recent],
        "served": served,
        "chart": {"stamp": chart_stamp(served, recent)},
    }


def run_card(run: RetrainingRun) -> dict[str, Any]:
    card = selectors.progress(run)
    card["title"] = "Latest run" if run.finished else "Run in progress"
    card["outcome"] = outcome(run)
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
    return f"{label}: {run.reasons[0]}" if run.reasons else f"{label}."


def run_row(run: RetrainingRun) -> dict[str, Any]:
    """A row of the runs table, as the dashboard and the runs page both show it."""
    if run.duration is not None:
        duration = seconds(run.duration)
    elif not run.finished:
        duration = f"{run.step or run.status}…"
    else:
        duration = ""
    if run.decision_rule:
        decision = {"kind": "rule", "text": run.decision_rule}
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
        metrics={name: d.metrics[name] for name in MODEL_METRICS if isinstance(d.metrics.get(name), int | float)},
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
