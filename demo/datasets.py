"""The demo's datasets, each served in three growing batches, with nothing downloaded.

- `churn` (the default): telecom customers who left or stayed, generated here with a fixed seed.
  Churn follows interacting rules (contract, tenure, support calls, fibre at a high price...)
  and 5% of labels are flipped, so no model is perfect and more rows genuinely help: on batch
  2's holdout the forest trained on batch 2 beats the one trained on batch 1 by a gain no test
  can miss; batch 3 (+20%) adds nothing measurable (the learning curve has flattened), so the
  champion is kept. The README's demo quotes the figures (tests/test_readme_demo.py checks them).
- `houses`: a regression: house prices (in thousands) from area, rooms, age, distance to the
  centre, district and condition, generated here with a fixed seed. The price follows interacting
  rules plus noise (`HOUSE_NOISE`, in thousands), so no model is exact and more rows genuinely
  lower the error: batch 2's forest has a clearly lower RMSE than batch 1's.
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
_HOUSE_ROWS = (200, 2000, 2400)
_HOUSE_SEED = 23
# The standard deviation of the price's noise, in thousands: the least RMSE any model can reach.
HOUSE_NOISE = 25.0
_PENGUIN_FRACTIONS = (0.6, 0.8, 1.0)
_PENGUIN_SEED = 7


def batch_sizes(dataset: str) -> tuple[int, ...]:
    if dataset == "churn":
        return _CHURN_ROWS
    if dataset == "houses":
        return _HOUSE_ROWS
    if dataset == "penguins":
        return tuple(round(len(_penguins()) * fraction) for fraction in _PENGUIN_FRACTIONS)
    raise ValueError(f"unknown demo dataset {dataset!r}: choose churn, houses or penguins")


def batch(dataset: str, number: int) -> pd.DataFrame:
    """The first rows of the dataset up to batch `number`: each batch holds the previous one."""
    sizes = batch_sizes(dataset)
    if not 1 <= number <= BATCHES:
        raise ValueError(f"demo batch must be between 1 and {BATCHES}, got {number}")
    rows = {"churn": _churn, "houses": _houses}.get(dataset, _penguins)()
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


@functools.cache
def _houses() -> pd.DataFrame:
    return houses(_HOUSE_ROWS[-1], _HOUSE_SEED)


def houses(rows: int, seed: int, noise: float = HOUSE_NOISE) -> pd.DataFrame:
    """`rows` houses and their price in thousands (two decimals): `house_value` plus normal noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "area_m2": np.round(rng.gamma(6.0, 18.0, rows), 1),
            "rooms": rng.integers(1, 8, rows),
            "age_years": rng.integers(0, 100, rows),
            "distance_km": np.round(rng.exponential(8.0, rows), 2),
            "district": rng.choice(["centre", "riverside", "suburb", "industrial", "hills"], rows),
            "condition": rng.choice(["new", "good", "fair", "poor"], rows, p=[0.15, 0.45, 0.3, 0.1]),
        }
    )
    price = house_value(frame) + rng.normal(0.0, noise, rows)
    return frame.assign(price=np.round(np.maximum(price, 20.0), 2))


def house_value(houses: pd.DataFrame) -> np.ndarray:
    """The price rule without its noise, in thousands: public so simulated traffic follows it too."""
    area = houses["area_m2"].to_numpy(dtype=float)
    rooms = houses["rooms"].to_numpy(dtype=float)
    age = houses["age_years"].to_numpy(dtype=float)
    distance = houses["distance_km"].to_numpy(dtype=float)
    district = houses["district"].to_numpy()
    condition = houses["condition"].to_numpy()
    per_m2 = np.select(
        [district == "centre", district == "riverside", district == "hills", district == "industrial"],
        [4.0, 3.2, 2.8, 1.6],
        2.2,
    )
    per_m2 = per_m2 * np.exp(-distance / 25.0)
    state = np.select([condition == "new", condition == "good", condition == "fair"], [1.25, 1.0, 0.85], 0.65)
    # Old houses in the centre are sought after; elsewhere age costs value.
    aged = np.where(district == "centre", 1.0 + 0.002 * age, 1.0 - 0.003 * age)
    crowded = np.where(area / rooms < 20.0, -30.0, 0.0)
    return per_m2 * area * state * aged + 8.0 * np.minimum(rooms, 5) + crowded
