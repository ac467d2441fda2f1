"""The promotion gate's words: what people read for a rule code, an outcome, a gate and a policy field.

Rule codes (`Decision.rule`) and the policy's field names stay what programs read (the REST API,
MLflow tags); the panel, the notifications, the API's display fields and the CLI say these
sentences instead, so every place names the same thing the same way.

The gate is named for what decides it: the p-value of the paired test (ml/gate/significance.py),
a randomization test for accuracy, precision, recall and F1, DeLong for ROC AUC and a t-test on
per-row errors for a regression. The bootstrap there only draws the interval, so the gate is not
called a bootstrap. A run that recorded its comparison is named by the test it actually ran.
"""

from typing import Any

# The policy's `test` values; "bootstrap" is the stored name of the paired test.
GATES = {
    "bootstrap": "paired randomization test",
    "mcnemar": "McNemar's test",
    "none": "no significance test",
}
GATE_CHOICES = {
    "bootstrap": "Paired randomization test (any metric; DeLong for ROC AUC, t-test for errors)",
    "mcnemar": "McNemar's test (accuracy only)",
    "none": "None: any gain deploys",
}

# The policy's fields as the run page and the policy card label them.
POLICY_FIELDS = {
    "primary_metric": "Primary metric",
    "min_improvement": "Minimum improvement",
    "max_guard_drop": "Largest drop allowed on other metrics",
    "test": "Significance gate",
    "significance": "Significance level",
    "return_significance": "Significance level to bring back a replaced model",
    "min_first_score": "Minimum score for the first model",
    "max_first_error": "Largest error for the first model",
    "reject_on_drift": "Reject new data that drifted",
    "positive_class": "Positive class",
    "note": "Why this change",
}


def gate(test: str, comparison: dict[str, Any] | None = None) -> str:
    """The gate's name: the test the run's comparison ran when it recorded one, else the policy's."""
    ran = (comparison or {}).get("p_method")
    return str(ran) if ran and test != "none" else GATES.get(test, test)


def decision(rule: str, status: str, comparison: dict[str, Any] | None = None) -> str:
    """The rule that decided a run, as one sentence; "" for a run no rule decided."""
    deployed = status == "deployed"
    if rule in GATES and rule != "none":
        name = gate(rule, comparison)
        if deployed:
            return f"Better, and the {name} says the gain is not noise"
        return f"The gain could be noise: the {name} did not find it significant"
    sentences = _SENTENCES.get(rule)
    if sentences is None:
        return rule.replace("_", " ").capitalize() if rule else ""
    return sentences[0] if deployed else sentences[1]


# rule: (sentence when the challenger was deployed, sentence when the champion was kept).
_SENTENCES = {
    "first_model": (
        "First model: its score met the policy's minimum",
        "First model: its score did not meet the policy's minimum",
    ),
    "min_improvement": (
        "Better than the champion (no significance test)",
        "Not better than the champion by the gain the policy asks",
    ),
    "guard_metric": ("", "Another metric dropped by more than the policy allows"),
    "no_difference": ("", "Both models made the same predictions: nothing to choose"),
    "missing_metric": ("", "The primary metric could not be computed for both models"),
    "hysteresis": ("", "Bringing back a model just replaced needs a stricter p-value, not reached"),
    "too_few_clean_rows": ("", "Too few holdout rows that no compared model trained on"),
}


def policy_value(name: str, value: Any) -> str:
    """A policy field's value as people read it."""
    if name == "test":
        return GATE_CHOICES.get(str(value), str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "not set"
    return str(value)


def policy_facts(policy: dict[str, Any]) -> list[tuple[str, str]]:
    """A policy (as a run copied it) as labelled values, in the order of POLICY_FIELDS."""
    named = [(POLICY_FIELDS[name], policy_value(name, policy[name])) for name in POLICY_FIELDS if name in policy]
    others = [(name.replace("_", " ").capitalize(), policy_value(name, value)) for name, value in policy.items()]
    return named + [pair for pair, name in zip(others, policy, strict=True) if name not in POLICY_FIELDS | {"id": 0}]
