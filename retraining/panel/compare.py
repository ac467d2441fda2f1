"""Two runs side by side: their models' scores, the paired test where the two were scored on the
same rows, their data versions, their setups and the drift each saw. Read from what each run
recorded; where the runs never recorded a figure (two models never scored on the same rows), the
page says so instead of comparing scores from different holdouts as if they were paired."""

from dataclasses import dataclass, field
from typing import Any

from ml.gate.significance import Comparison
from retraining.models import RetrainingRun
from retraining.panel.profiles import side_by_side


@dataclass
class Paired:
    """The one paired comparison the two runs share, if any: the newer run scored the older run's
    model (its champion then) and its own challenger on the same holdout."""

    older_model: str
    newer_model: str
    rows: int
    metrics: list[tuple[str, float | None, float | None]]
    comparison: Comparison | None
    by_run: int
    # Training rows added, removed and kept from the older model's to the newer's, by row key,
    # as the newer run computed them; None when it could not (unknown rows, another split key).
    rows_changed: dict[str, Any] | None = None
    # Holdout rows likewise, from the older model's holdout to the newer run's (None when unknown).
    holdout_changed: dict[str, Any] | None = None


@dataclass
class Side:
    run: RetrainingRun
    data: dict[str, Any]
    rows: dict[str, Any]
    setup: list[tuple[str, str]]
    kinds: list[tuple[str, list[str]]]
    drift: list[tuple[str, float | None]] = field(default_factory=list)
    drift_verdict: str = ""


def compare(first: RetrainingRun, second: RetrainingRun) -> dict[str, Any]:
    older, newer = sorted((first, second), key=lambda run: run.pk)
    names = sorted(set(older.challenger_metrics) | set(newer.challenger_metrics))
    return {
        "older": _side(older),
        "newer": _side(newer),
        "own_metrics": [
            (name, older.challenger_metrics.get(name), newer.challenger_metrics.get(name)) for name in names
        ],
        "paired": _paired(older, newer),
        "profiles": side_by_side(older, newer),
        "same_data": bool(older.dataset.get("md5")) and older.dataset.get("md5") == newer.dataset.get("md5"),
    }


def run_number(asked: str) -> str:
    """The run a form field names: a run number ("12", "#12"), or a model version ("v3") as the run
    that made it; anything else as it was typed, for the page to say what is wrong with it."""
    asked = asked.strip().lstrip("#")
    if asked[:1] in ("v", "V") and asked[1:].isdigit():
        made = RetrainingRun.objects.filter(model_version=asked[1:]).order_by("-pk").values_list("pk", flat=True)
        return str(made.first() or asked)
    return asked


def counterpart(pk: int) -> int | None:
    """The run to compare run `pk` with: the one that made the champion it was judged against, else
    the latest earlier run that made a model."""
    run = RetrainingRun.objects.filter(pk=pk).values("champion_version").first()
    if run is None:
        return None
    earlier = RetrainingRun.objects.filter(pk__lt=pk).exclude(model_version="").order_by("-pk")
    if run["champion_version"]:
        made = earlier.filter(model_version=run["champion_version"]).values_list("pk", flat=True).first()
        if made is not None:
            return made
    return earlier.values_list("pk", flat=True).first()


def _paired(older: RetrainingRun, newer: RetrainingRun) -> Paired | None:
    if not older.model_version or newer.champion_version != older.model_version or not newer.champion_metrics:
        return None
    names = sorted(set(newer.champion_metrics) | set(newer.challenger_metrics))
    return Paired(
        older_model=older.model_version,
        newer_model=newer.model_version or "the challenger",
        rows=int((newer.holdout_exclusion or {}).get("clean") or (newer.rows or {}).get("holdout") or 0),
        metrics=[(name, newer.champion_metrics.get(name), newer.challenger_metrics.get(name)) for name in names],
        comparison=Comparison(**newer.comparison) if newer.comparison else None,
        by_run=newer.pk,
        rows_changed=(newer.holdout_exclusion or {}).get("training_rows_vs_champion"),
        holdout_changed=(newer.holdout_exclusion or {}).get("holdout_rows_vs_champion"),
    )


def _side(run: RetrainingRun) -> Side:
    lineage = run.lineage or {}
    columns = (lineage.get("columns") or {}).get("columns") or {}
    kinds: dict[str, list[str]] = {}
    for name, spec in columns.items():
        kinds.setdefault(str(spec.get("kind", "unknown")), []).append(name)
    setup = run.setup or {}
    facts = [
        ("estimator", str(setup.get("estimator") or run.estimator or "unknown")),
        (
            "params",
            ", ".join(f"{k}={v}" for k, v in sorted((setup.get("params") or run.params or {}).items())) or "defaults",
        ),
        ("pipeline", str(setup.get("pipeline") or "the product's own")),
        ("code version", str(lineage.get("code_version") or lineage.get("app_version") or "unknown")),
        ("setup", run.setup_fingerprint[:12] or "unknown"),
    ]
    drift = (run.validation or {}).get("drift") or {}
    features = drift.get("features") or {}
    return Side(
        run=run,
        data=run.dataset or {},
        rows=run.rows or {},
        setup=facts,
        kinds=sorted(kinds.items()),
        drift=sorted(((name, (spec or {}).get("psi")) for name, spec in features.items()), key=lambda f: -(f[1] or 0)),
        drift_verdict=str(drift.get("verdict") or ""),
    )


def not_a_run(name: str, value: str) -> str:
    if value[:1] in ("v", "V") and value[1:].isdigit():
        return f"no run made model {value}"
    return f"{name}={value!r} is not a run number or a model version (v3)"
