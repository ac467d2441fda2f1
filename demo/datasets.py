"""The demo's datasets, each served in three growing batches, with nothing downloaded.

- `churn` (the default): telecom customers who left or stayed, generated here with a fixed seed.
  Churn follows interacting rules (contract, tenure, support calls, fibre at a high price...)
  and 5% of labels are flipped, so no model is perfect and more rows genuinely help: on batch
  2's holdout (~500 rows) the forest trained on batch 1 (200 rows) scores about 0.78 accuracy
  and the one trained on batch 2 (2,000 rows) about 0.89, a gain no test can miss; batch 3
  (+20%) adds nothing measurable (the learning curve has flattened), so the champion is kept.
- `penguins`: Palmer penguins, as `palmerpenguins` ships them. The first model already scores
  1.0, so no challenger can ever win; the tests use it for a small, exact dataset.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

BATCHES = 3
_CHURN_ROWS = (200, 2000, 2400)
_CHURN_SEED = 11
# A customer whose risk (churn_risk) is above this leaves; this share of the labels is then flipped.
CHURN_THRESHOLD = 1.2
CHURN_FLIPPED = 0.05
_PENGUIN_FRACTIONS = (0.6, 0.8, 1.0)
_PENGUIN_SEED = 7


def batch_sizes(dataset: str) -> tuple[int, ...]:
    if dataset == "churn":
        return _CHURN_ROWS
    if dataset == "penguins":
        return tuple(round(len(_penguins()) * fraction) for fraction in _PENGUIN_FRACTIONS)
    raise ValueError(f"unknown demo dataset {dataset!r}: choose churn or penguins")


def batch(dataset: str, number: int) -> pd.DataFrame:
    """The first rows of the dataset up to batch `number`: each batch holds the previous one."""
    sizes = batch_sizes(dataset)
    if not 1 <= number <= BATCHES:
        raise ValueError(f"demo batch must be between 1 and {BATCHES}, got {number}")
    rows = _churn() if dataset == "churn" else _penguins()
    return rows.head(sizes[number - 1]).copy()


@functools.cache
def _penguins() -> pd.DataFrame:
    """Shuffled with a fixed seed: the package lists the rows grouped by species."""
    from palmerpenguins import load_penguins

    penguins = load_penguins()
    order = np.random.default_rng(_PENGUIN_SEED).permutation(len(penguins))
    return penguins.iloc[order].reset_index(drop=True)


@functools.cache
def _churn() -> pd.DataFrame:
    n = _CHURN_ROWS[-1]
    rng = np.random.default_rng(_CHURN_SEED)
    tenure = rng.integers(1, 73, n)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.5, 0.3, 0.2])
    charges = np.round(rng.uniform(18, 120, n), 2)
    calls = rng.poisson(2, n)
    internet = rng.choice(["fiber", "dsl", "none"], n, p=[0.45, 0.4, 0.15])
    age = rng.integers(18, 85, n)
    usage = np.round(rng.gamma(2.0, 150, n), 1)
    late = rng.poisson(0.8, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    customers = pd.DataFrame(
        {
            "tenure_months": tenure,
            "contract": contract,
            "monthly_charges": charges,
            "support_calls": calls,
            "internet": internet,
            "age": age,
            "monthly_usage_gb": usage,
            "late_payments": late,
            "region": region,
        }
    )
    churned = (churn_risk(customers) > CHURN_THRESHOLD) ^ (rng.random(n) < CHURN_FLIPPED)
    return customers.assign(churned=np.where(churned, "yes", "no"))


def churn_risk(customers: pd.DataFrame) -> np.ndarray:
    """The churn rule's score of each customer: above CHURN_THRESHOLD, the customer leaves (before
    CHURN_FLIPPED of the labels are flipped). Public so that simulated traffic follows the same rule."""
    tenure = customers["tenure_months"].to_numpy()
    contract = customers["contract"].to_numpy()
    charges = customers["monthly_charges"].to_numpy()
    calls = customers["support_calls"].to_numpy()
    internet = customers["internet"].to_numpy()
    age = customers["age"].to_numpy()
    usage = customers["monthly_usage_gb"].to_numpy()
    late = customers["late_payments"].to_numpy()
    region = customers["region"].to_numpy()
    risk = np.where(contract == "month-to-month", 1.0, np.where(contract == "one-year", -0.3, -1.2))
    risk += np.where(tenure < 12, 1.0, np.where(tenure > 48, -1.0, 0.0))
    risk += np.where((internet == "fiber") & (charges > 85), 1.2, 0.0)
    risk += np.where(calls >= 4, np.where(tenure < 24, 1.5, 0.5), 0.0)
    risk += np.where((usage < 120) & (charges > 70), 1.0, 0.0)
    risk += np.where(late >= 2, 0.8, 0.0)
    risk += np.where((age > 60) & (internet == "fiber"), 0.7, 0.0)
    risk += np.where((region == "south") & (contract == "month-to-month"), 0.3, 0.0)
    return risk
