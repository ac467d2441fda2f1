"""The promotion policy: given both models' scores on the same holdout, deploy or keep.

A pure function over plain dicts, so every rule is tested on its own and a decision can be
recomputed from what a run recorded.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import binomtest

from predictor.contract import METRICS as GUARD_METRICS

DEFAULT_POLICY: dict[str, Any] = {
    "primary_metric": "accuracy",
    "min_improvement": 0.0,
    "max_guard_drop": 0.01,
    "use_mcnemar": False,
    "significance": 0.05,
    "min_first_score": 0.5,
}
# Scores are sums of fractions: compare with a tolerance so 0.9 - 0.8 counts as +0.1.
_TOLERANCE = 1e-9


@dataclass
class Decision:
    deploy: bool
    rule: str
    reasons: list[str] = field(default_factory=list)
    p_value: float | None = None


def mcnemar_p_value(truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> float:
    """Exact McNemar test on the rows where exactly one of the two models is right."""
    champion_right = champion == truth
    challenger_right = challenger == truth
    only_champion = int(np.sum(champion_right & ~challenger_right))
    only_challenger = int(np.sum(challenger_right & ~champion_right))
    discordant = only_champion + only_challenger
    if discordant == 0:
        return 1.0
    return float(binomtest(only_challenger, discordant, 0.5).pvalue)


def decide(
    policy: dict[str, Any],
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    p_value: float | None = None,
) -> Decision:
    policy = {**DEFAULT_POLICY, **policy}
    primary = policy["primary_metric"]
    new = challenger[primary]
    if champion is None:
        floor = policy["min_first_score"]
        if new >= floor:
            return Decision(True, "first_model", [f"first model: {primary} {new:.4f} >= minimum {floor:.4f}"])
        return Decision(False, "first_model", [f"first model: {primary} {new:.4f} is below minimum {floor:.4f}"])

    old = champion[primary]
    gain = new - old
    needed = policy["min_improvement"]
    better = gain > _TOLERANCE if needed <= 0 else gain >= needed - _TOLERANCE
    wanted = "strictly better" if needed <= 0 else f"at least +{needed:.4f}"
    if not better:
        return Decision(
            False,
            "min_improvement",
            [
                f"{primary}: challenger {new:.4f} vs champion {old:.4f} ({gain:+.4f}), needs {wanted}",
                *_p_value_note(p_value),
            ],
            p_value,
        )
    reasons = [f"{primary}: challenger {new:.4f} vs champion {old:.4f} ({gain:+.4f}), {wanted}: passed"]

    limit = policy["max_guard_drop"]
    for metric in GUARD_METRICS:
        if metric == primary or metric not in challenger or metric not in champion:
            continue
        drop = champion[metric] - challenger[metric]
        if drop > limit + _TOLERANCE:
            return Decision(
                False,
                "guard_metric",
                [
                    *reasons,
                    f"{metric} dropped by {drop:.4f} ({champion[metric]:.4f} -> {challenger[metric]:.4f}), "
                    f"more than the allowed {limit:.4f}",
                ],
                p_value,
            )
    reasons.append(f"no other metric dropped by more than {limit:.4f}")

    if policy["use_mcnemar"]:
        alpha = policy["significance"]
        if p_value is None or p_value >= alpha:
            shown = "n/a" if p_value is None else f"{p_value:.4f}"
            return Decision(
                False,
                "mcnemar",
                [*reasons, f"McNemar p-value {shown} is not below the significance level {alpha}"],
                p_value,
            )
        reasons.append(f"McNemar p-value {p_value:.4f} < {alpha}")
    else:
        reasons += _p_value_note(p_value)
    return Decision(True, "mcnemar" if policy["use_mcnemar"] else "min_improvement", reasons, p_value)


def _p_value_note(p_value: float | None) -> list[str]:
    return [] if p_value is None else [f"McNemar p-value {p_value:.4f}"]


def regressed(policy: dict[str, Any], current: dict[str, float], previous: dict[str, float]) -> Decision:
    """Whether the previous champion now beats the current one on today's holdout, under the policy."""
    return decide(policy, challenger=previous, champion=current)
