"""The promotion policy: given both models' scores on the same holdout, deploy or keep.

A pure function over plain dicts and one paired comparison (ml.gate.significance), so every
rule is tested on its own and a decision can be recomputed from what a run recorded.

The significance gate is on by default: a gain that this holdout cannot tell from noise keeps the
champion, whatever the metric. Going back to a model that was just replaced (a rollback) needs a
stricter level, so two equivalent models cannot take turns being served.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.evaluate import Score
from ml.gate.significance import Comparison, paired_test
from ml.task import CLASSIFICATION, REGRESSION, Task

DEFAULT_POLICY: dict[str, Any] = {
    "primary_metric": "accuracy",
    "min_improvement": 0.0,
    "max_guard_drop": 0.01,
    "test": "bootstrap",
    # Calibrated with bench/promotion.py: with no real change the served model changes in at most
    # 5% of runs, and a real gain of 2 points on a 2,000-row holdout still deploys (docs/benchmarks.md).
    "significance": 0.005,
    "return_significance": 0.001,
    "min_first_score": 0.5,
    # A regression's first model: the most its primary error (RMSE, MAE) may be; None (unset) asks
    # it to beat always answering the holdout's mean (R² above 0).
    "max_first_error": None,
}
POLICY_TESTS = ("bootstrap", "mcnemar", "none")
# A challenger may not lose more than max_guard_drop on any of the task's other metrics; for an
# error metric (in the target's unit, so of no fixed scale) the drop is relative to the champion's.
GUARD_METRICS = CLASSIFICATION.metrics
# Metrics a primary metric is made of, so not guarded apart from it. F1 is the harmonic mean of
# precision and recall: choosing it declares that a model may trade one for the other, and F1
# already falls when the trade is a bad one. Guarding either part as well would refuse the trades
# F1 accepts, on point estimates with no test against noise: on a rare positive class, precision
# moves between two equally good models by more than a guard's tolerance, so the guard refused
# real gains at random (bench/promotion.py, docs/benchmarks.md). Accuracy and ROC AUC stay guarded.
PRIMARY_PARTS = {"f1": frozenset({"precision", "recall"})}
# R² is one minus the mean squared error over the holdout's spread: on the same rows it moves with
# RMSE exactly, so it is judged through it.
PRIMARY_PARTS |= {"rmse": frozenset({"r2"}), "r2": frozenset({"rmse"})}
# A guard's drop beyond max_guard_drop keeps the champion only when the rows can tell it from noise:
# the paired interval of the difference (two-sided at this level, so 5% on the side of a drop) lies
# beyond the allowed drop. On a few hundred rows precision or recall moves between two equally good
# models by more than a point, and a guard on point figures refused real gains at random; a real
# trade of the guarded metric for the primary is still refused. A guard only ever adds refusals, so
# the rate of deploys with no real change stays bounded by the primary metric's own paired test,
# whatever the guards do (`guards` in `decide`, from `guard_comparisons`).
GUARD_LEVEL = 0.1
# Scores are sums of fractions: compare with a tolerance so 0.9 - 0.8 counts as +0.1.
_TOLERANCE = 1e-9


class PolicyError(ValueError):
    """A stored policy that cannot be applied (an unknown test, McNemar on a metric other than accuracy)."""


@dataclass
class Decision:
    deploy: bool
    rule: str
    reasons: list[str] = field(default_factory=list)
    p_value: float | None = None
    comparison: Comparison | None = None


def policy_settings(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with defaults filled in, checked."""
    merged = {**DEFAULT_POLICY, **policy}
    if merged["test"] not in POLICY_TESTS:
        raise PolicyError(f"unknown significance test {merged['test']!r}: choose one of {', '.join(POLICY_TESTS)}")
    if merged["test"] == "mcnemar" and merged["primary_metric"] != "accuracy":
        raise PolicyError(f"McNemar's test compares accuracy only; the primary metric is {merged['primary_metric']}")
    for name in ("significance", "return_significance"):
        if not 0 < merged[name] < 1:
            raise PolicyError(f"{name} must be strictly between 0 and 1, got {merged[name]}")
    return merged


def gate_level(policy: dict[str, Any], *, returning: bool = False) -> float:
    """The significance level a gain must reach: stricter when it would bring back a replaced model."""
    merged = policy_settings(policy)
    return min(merged["significance"], merged["return_significance"]) if returning else merged["significance"]


def task_of(score: Score) -> Task:
    return REGRESSION if score.task == REGRESSION.name else CLASSIFICATION


def primary_metric(policy: dict[str, Any], task: Task) -> str:
    """The policy's primary metric if it is one of the task's, else the task's own (RMSE for a
    regression judged under a policy written for classification)."""
    primary = policy_settings(policy)["primary_metric"]
    return primary if primary in task.metrics else task.primary


def paired_comparison(
    policy: dict[str, Any], truth: np.ndarray, champion: Score, challenger: Score, *, returning: bool = False
) -> Comparison:
    """The comparison the policy's gate reads, at the level it will apply. With the gate off the
    bootstrap still runs: the run records the interval and what the holdout could detect."""
    merged = policy_settings(policy)
    task = task_of(challenger)
    # McNemar compares classes; a regression is always compared on its per-row losses.
    test = "bootstrap" if merged["test"] == "none" or task is REGRESSION else merged["test"]
    level = gate_level(merged, returning=returning)
    return paired_test(primary_metric(merged, task), truth, champion, challenger, test=test, level=level)


def guard_comparisons(
    policy: dict[str, Any], truth: np.ndarray, champion: Score, challenger: Score
) -> dict[str, Comparison]:
    """Each guarded metric of a classification compared row by row, at GUARD_LEVEL: what tells a
    guard's drop from noise in `decide`. A regression's guards stay on their figures."""
    if task_of(challenger) is not CLASSIFICATION or task_of(champion) is not CLASSIFICATION:
        return {}
    primary = primary_metric(policy, CLASSIFICATION)
    skipped = {primary, *PRIMARY_PARTS.get(primary, frozenset())}
    found = {}
    for metric in CLASSIFICATION.metrics:
        if metric in skipped or metric not in challenger.metrics or metric not in champion.metrics:
            continue
        try:
            found[metric] = paired_test(metric, truth, champion, challenger, level=GUARD_LEVEL)
        except ValueError:
            continue  # not comparable row by row (no probabilities): the guard reads the figures
    return found


def decide(
    policy: dict[str, Any],
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    comparison: Comparison | None = None,
    *,
    returning: bool = False,
    task: Task = CLASSIFICATION,
    guards: dict[str, Comparison] | None = None,
) -> Decision:
    """Deploy the challenger or keep the champion. `comparison` is the paired comparison of the two
    on the same clean rows (`paired_comparison`); `returning` is true when the challenger is a model
    that was just replaced, which then needs the stricter return level. `task` says which way each
    metric improves; `guards`, each guard metric's paired comparison (`guard_comparisons`): with
    one, a drop counts only when its interval lies beyond the allowed drop (GUARD_LEVEL)."""
    policy = policy_settings(policy)
    primary = primary_metric(policy, task)
    if primary not in challenger or (champion is not None and primary not in champion):
        return Decision(False, "missing_metric", [f"{primary} could not be computed for both models on this holdout"])
    new = challenger[primary]
    if champion is None:
        return _first(policy, task, primary, challenger)

    notes = comparison.describe() if comparison is not None else []
    p_value = comparison.p_value if comparison is not None else None

    def keep(rule: str, *reasons: str) -> Decision:
        return Decision(False, rule, [*reasons, *notes], p_value, comparison)

    if comparison is not None and comparison.identical:
        return keep(
            "no_difference",
            f"the two models made the same predictions on all {comparison.rows} rows: nothing to choose between them",
        )
    old = champion[primary]
    gain = task.gain(primary, new, old)
    needed = policy["min_improvement"]
    better = gain > _TOLERANCE if needed <= 0 else gain >= needed - _TOLERANCE
    wanted = "strictly better" if needed <= 0 else f"at least +{needed:.4f}"
    verdict = f"{primary}: challenger {new:.4f} vs champion {old:.4f} ({gain:+.4f})"
    if not better:
        return keep("min_improvement", f"{verdict}, needs {wanted}")
    reasons = [f"{verdict}, {wanted}: passed"]

    limit = policy["max_guard_drop"]
    parts = PRIMARY_PARTS.get(primary, frozenset())
    for metric in task.metrics:
        if metric == primary or metric in parts or metric not in challenger or metric not in champion:
            continue
        drop = -task.gain(metric, challenger[metric], champion[metric])
        relative = not task.higher_is_better(metric)
        if relative:
            drop = drop / abs(champion[metric]) if champion[metric] else (drop if drop > 0 else 0.0)
        if drop > limit + _TOLERANCE:
            tested = (guards or {}).get(metric)
            if tested is not None and not relative and tested.high > -limit - _TOLERANCE:
                reasons.append(
                    f"{metric} dropped by {drop:.4f} ({champion[metric]:.4f} -> {challenger[metric]:.4f}), within "
                    f"noise: its {1 - tested.level:.0%} interval [{tested.low:+.4f}, {tested.high:+.4f}] reaches "
                    f"-{limit:.4f}"
                )
                continue
            worse = f"{drop:.2%} worse" if relative else f"dropped by {drop:.4f}"
            allowed = f"{limit:.2%}" if relative else f"{limit:.4f}"
            return keep(
                "guard_metric",
                *reasons,
                f"{metric} {worse} ({champion[metric]:.4f} -> {challenger[metric]:.4f}), "
                f"more than the allowed {allowed}",
            )
    exempt = f" ({' and '.join(sorted(parts))} are parts of {primary}, judged through it)" if parts else ""
    relative = " (errors: relative to the champion's)" if task.lower_is_better else ""
    reasons.append(f"no other metric dropped by more than {limit:.4f}{relative}{exempt}")

    test = policy["test"]
    if test == "none":
        return Decision(True, "min_improvement", [*reasons, *notes], p_value, comparison)
    if comparison is None:
        return keep(test, *reasons, f"the {test} gate is on but the models were not compared row by row")
    level = gate_level(policy, returning=returning)
    improved = task.gain(primary, comparison.difference, 0.0) > 0
    significant = improved and comparison.p_value < level
    if significant:
        gate = f"significant: p-value {comparison.p_value:.4f} < {level}"
        return Decision(True, test, [*reasons, gate, *notes], p_value, comparison)
    if returning and improved and comparison.p_value < policy["significance"]:
        return keep(
            "hysteresis",
            *reasons,
            f"p-value {comparison.p_value:.4f} would pass {policy['significance']}, but bringing back a model that "
            f"was just replaced needs p < {level}",
        )
    return keep(test, *reasons, f"not significant: p-value {comparison.p_value:.4f} is not below {level}")


def _first(policy: dict[str, Any], task: Task, primary: str, challenger: dict[str, float]) -> Decision:
    """The very first model: a classification's primary score at least the floor (min_first_score);
    a regression's primary error at most the ceiling (max_first_error), or, with none set, better
    than always answering the holdout's mean (R² above 0)."""
    new = challenger[primary]
    if task.higher_is_better(primary) and task is CLASSIFICATION:
        floor = policy["min_first_score"]
        if new >= floor:
            return Decision(True, "first_model", [f"first model: {primary} {new:.4f} >= minimum {floor:.4f}"])
        return Decision(False, "first_model", [f"first model: {primary} {new:.4f} is below minimum {floor:.4f}"])
    ceiling = policy.get("max_first_error")
    if ceiling is not None and not task.higher_is_better(primary):
        ceiling = float(ceiling)
        if new <= ceiling:
            return Decision(True, "first_model", [f"first model: {primary} {new:.4f} <= ceiling {ceiling:.4f}"])
        return Decision(False, "first_model", [f"first model: {primary} {new:.4f} is above the ceiling {ceiling:.4f}"])
    r2 = challenger.get("r2")
    if r2 is None:
        return Decision(False, "first_model", ["first model: r2 is unknown (the holdout's target does not vary)"])
    figure = f"{primary} {new:.4f}, r2 {r2:.4f}"
    if r2 > 0:
        return Decision(True, "first_model", [f"first model: {figure}, better than always answering the mean (r2 > 0)"])
    return Decision(
        False, "first_model", [f"first model: {figure}, no better than always answering the mean (r2 <= 0)"]
    )


def regressed(
    policy: dict[str, Any],
    current: dict[str, float],
    previous: dict[str, float],
    comparison: Comparison | None,
    *,
    returning: bool = True,
    task: Task = CLASSIFICATION,
) -> Decision:
    """Whether the previous champion beats the current one under the same rules as a promotion,
    on rows neither trained on. `comparison` is previous (as challenger) against current (as
    champion), made with `paired_comparison(..., returning=True)`.

    The previous champion is the model the current one replaced, so bringing it back is a return
    and needs the stricter level; `returning=False` is for a caller that knows the previous model
    was not replaced recently.
    """
    return decide(policy, challenger=previous, champion=current, comparison=comparison, returning=returning, task=task)
