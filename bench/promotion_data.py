"""The datasets and policies of bench/promotion.py, and the rare-event row.

Rare events: a table generated once with make_classification (weights 98/2, no label noise),
numbers and a categorical column, labels "fraud"/"ok"; each version is 20,000 rows drawn without
replacement from a fixed pool of 200,000, so the holdout holds about 5,000 rows and 100 frauds.
The positive class is found as the pipeline finds it (ml.positive.resolve: the rarer class,
"fraud"). Policies: the default with F1 as the primary metric, and, for contrast, the same with
precision and recall guarded like any other metric (as before F1's parts were exempt). The A/B
champion is trained on a tenth of the rows (about 150 frauds instead of 1,500); the gain is
measured on a separate test set of 20,000 rows.

Regression: house prices (demo.datasets.houses: numbers and categories, a price rule plus normal
noise of standard deviation HOUSE_NOISE thousands, the least RMSE any model can reach), each
version a draw without replacement from a fixed pool of 200,000 rows, at three sizes. RMSE is the
primary metric (the default policy, written for accuracy, judges a regression on its task's own
primary), and the gate is the paired t-test on per-row squared errors. The A/B champion is trained
on half the rows; its gain is the relative RMSE reduction on a separate test set of 20,000 rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from ml.gate import policy as gate
from ml.gate.policy import DEFAULT_POLICY
from ml.gate.significance import Comparison
from ml.positive import resolve
from ml.task import CLASSIFICATION, REGRESSION, Task

DEFAULT = "default (bootstrap)"
POLICIES = {
    DEFAULT: DEFAULT_POLICY,
    "mcnemar": {**DEFAULT_POLICY, "test": "mcnemar"},
    "no gate (old default)": {**DEFAULT_POLICY, "test": "none"},
}
F1_POLICY = {**DEFAULT_POLICY, "primary_metric": "f1"}
CHECKED = "f1 on fraud, bootstrap"
GUARDED = "f1, parts guarded too"
RARE_POLICIES = {CHECKED: F1_POLICY, GUARDED: F1_POLICY}
REGRESSION_POLICIES = {DEFAULT: DEFAULT_POLICY, "no gate (old default)": {**DEFAULT_POLICY, "test": "none"}}


@dataclass
class Population:
    name: str
    target: str
    draw: Callable[[np.random.Generator, int], pd.DataFrame]
    rows: int
    test: pd.DataFrame | None = None
    # The class precision, recall and F1 are for (None: sklearn's default), the policies judged,
    # the one the targets check, the A/B gain's metric, and how much smaller the A/B champion's data is.
    positive: str | None = None
    policies: dict[str, dict] = field(default_factory=lambda: POLICIES)
    checked: str = DEFAULT
    metric: str = "accuracy"
    shrink: int = 3
    task: Task = CLASSIFICATION
    # What the rows' noise is, said with the results (a regression's least possible RMSE).
    noise: str = ""


def penguins() -> Population:
    from palmerpenguins import load_penguins

    table = load_penguins()
    return Population("penguins", "species", lambda rng, n: table.iloc[rng.integers(0, len(table), n)], len(table))


def generated(name: str, rows: int, classes: int, pool: int, seed: int) -> Population:
    """A fixed pool of rows with numbers, two categorical columns and gaps; versions are draws from it."""
    features, labels = make_classification(
        n_samples=pool + 3000, n_features=10, n_informative=6, n_redundant=2, n_classes=classes,
        n_clusters_per_class=2, class_sep=0.9, flip_y=0.03, random_state=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(features[:, 2:].round(4), columns=[f"x{i}" for i in range(8)])
    table["region"] = pd.qcut(features[:, 0], 5, labels=["north", "south", "east", "west", "centre"]).astype(str)
    table["tier"] = np.where(features[:, 1] > 0.5, "gold", np.where(features[:, 1] > -0.5, "silver", "bronze"))
    for column, share in (("x0", 0.03), ("x3", 0.05)):
        table.loc[rng.random(len(table)) < share, column] = np.nan
    table["tier"] = table["tier"].where(rng.random(len(table)) > 0.02, None)
    table["label"] = [f"class-{c}" for c in labels]
    base, test = table.iloc[:pool], table.iloc[pool:].reset_index(drop=True)
    return Population(name, "label", lambda r, n: base.iloc[r.choice(pool, n, replace=False)], rows, test)


def rare() -> Population:
    """Two classes, 2% positives, scored by F1 on the positive (see the module's docstring)."""
    features, labels = make_classification(
        n_samples=400_000, n_features=10, n_informative=6, n_redundant=2, n_classes=2, n_clusters_per_class=2,
        class_sep=2.0, weights=[0.98], flip_y=0.0, random_state=13,
    )  # fmt: skip
    table = pd.DataFrame(features[:, 2:].round(4), columns=[f"x{i}" for i in range(8)])
    table["region"] = pd.qcut(features[:, 0], 5, labels=["north", "south", "east", "west", "centre"]).astype(str)
    table["label"] = np.where(labels == 1, "fraud", "ok")
    pool = 200_000
    base, test = table.iloc[:pool], table.iloc[pool : pool + 20_000].reset_index(drop=True)
    positive = resolve(base["label"])  # as the pipeline finds it: the rarer class
    assert positive is not None
    return Population(
        "rare", "label", lambda r, n: base.iloc[r.choice(pool, n, replace=False)], 20_000, test,
        positive=positive.label, policies=RARE_POLICIES, checked=CHECKED, metric="f1", shrink=10,
    )  # fmt: skip


def houses(name: str, rows: int) -> Population:
    """House prices at `rows` a version (see the module's docstring)."""
    from demo.datasets import HOUSE_NOISE
    from demo.datasets import houses as generate

    pool = 200_000
    base, test = generate(pool, seed=31), generate(20_000, seed=32)
    return Population(
        name, "price", lambda r, n: base.iloc[r.choice(pool, n, replace=False)], rows, test,
        policies=REGRESSION_POLICIES, metric="rmse", shrink=2, task=REGRESSION,
        noise=f"price noise: normal, standard deviation {HOUSE_NOISE:g} (the least RMSE any model can reach)",
    )  # fmt: skip


def decide(
    name: str,
    policy: dict,
    challenger: dict,
    champion: dict,
    comparison: Comparison,
    *,
    returning: bool = False,
    task: Task = CLASSIFICATION,
    guards: dict[str, Comparison] | None = None,
) -> gate.Decision:
    """The policy's decision (`returning`: as ml.gate.policy.regressed makes it; `guards`: each
    guard metric's paired comparison, as the pipeline passes them to a promotion); for the
    contrast policy, with F1's parts guarded as well."""
    if name != GUARDED:
        return gate.decide(policy, challenger, champion, comparison, returning=returning, task=task, guards=guards)
    saved = gate.PRIMARY_PARTS
    gate.PRIMARY_PARTS = {}
    try:
        return gate.decide(policy, challenger, champion, comparison, returning=returning, task=task, guards=guards)
    finally:
        gate.PRIMARY_PARTS = saved
