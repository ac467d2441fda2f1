"""How the traffic changes after a while, per demo dataset: features moved, a category's mix
changed, and true labels that follow the story of the change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo import datasets


@dataclass(frozen=True)
class Shift:
    """How the traffic changes after `--shift-after`, for one demo dataset.

    `numeric` moves each named feature by that many of its standard deviations (in the demo
    data); rows are then drawn so that `mix_column`'s categories have the shares in `mix`;
    `relabel(shifted rows, their labels before the shift, rng)` gives their true labels, as
    `labels` says in words.
    """

    numeric: dict[str, float]
    mix_column: str
    mix: dict[str, float]
    labels: str
    relabel: Callable[[pd.DataFrame, pd.Series, np.random.Generator], np.ndarray]


def _poached_customers(shifted: pd.DataFrame, original: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The churn rule, except that long tenure no longer keeps a month-to-month customer: a
    competitor's offer takes them. The model learnt the opposite, so live quality falls."""
    poached = (shifted["contract"] == "month-to-month").to_numpy() & (shifted["tenure_months"] > 48).to_numpy()
    risk = datasets.churn_risk(shifted) + np.where(poached, 2.0, 0.0)
    leaves = (risk > datasets.CHURN_THRESHOLD) ^ (rng.random(len(shifted)) < datasets.CHURN_FLIPPED)
    return np.where(leaves, "yes", "no")


def _same_penguins(shifted: pd.DataFrame, original: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The birds are what they were: only the readings moved, so the model is fooled by them."""
    return original.to_numpy()


SHIFTS: dict[str, Shift] = {
    "churn": Shift(
        numeric={"tenure_months": 1.5, "monthly_charges": 1.0},
        mix_column="contract",
        mix={"month-to-month": 0.8, "one-year": 0.12, "two-year": 0.08},
        labels="long-standing month-to-month customers now leave too (a competitor's offer)",
        relabel=_poached_customers,
    ),
    "penguins": Shift(
        numeric={"bill_length_mm": 1.5, "body_mass_g": 1.0},
        mix_column="island",
        mix={"Dream": 0.7, "Biscoe": 0.2, "Torgersen": 0.1},
        labels="the birds' true species (a new team's calipers and scale read high)",
        relabel=_same_penguins,
    ),
}
