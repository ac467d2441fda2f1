"""Why the regression gate's power is what it is: the paired t-test's z on per-row squared errors.

For `--trials` A/A and A/B pairs of a houses row of bench/promotion.py (the same Lab, estimator and
exclusion; version numbers from `--offset`, away from the bench's own), prints the test's z
(mean loss gain over its standard error), the share of deployments each one-sided level would
give (and on MAE, for contrast), and how heavy-tailed the per-row differences of squared errors
are: the share of their sum of squares carried by the top 1% of rows, their kurtosis, and the
share of their variance that the price's own noise accounts for.

    nice -n 10 .venv/bin/python bench/promotion_power.py --dataset houses-m --trials 60 --offset 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.promotion import DATASETS, Lab
from demo.datasets import HOUSE_NOISE
from ml.gate.resampling import loss_difference

LEVELS = (0.0025, 0.005, 0.01, 0.025, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="houses-m", choices=[n for n in DATASETS if n.startswith("houses")])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--offset", type=int, default=2000)
    args = parser.parse_args()
    population = DATASETS[args.dataset]()
    lab = Lab(population)
    z = {"A/A": [], "A/B": []}
    # The same pairs judged on MAE (absolute errors): how much of the power RMSE's squares cost.
    z_mae = {"A/A": [], "A/B": []}
    gains, holdout_gains, tail, kurtosis, noise_share = [], [], [], [], []
    for trial in range(args.trials):
        lab.next_day()
        challenger = lab.version(args.offset + 2 * trial + 1)
        small = lab.version(args.offset + trial, rows=population.rows // population.shrink)
        twin = lab.version(args.offset + 2 * trial)
        for kind, champion in (("A/B", small), ("A/A", twin)):
            truth, (ours, theirs) = lab.scored([champion, challenger], challenger)
            y = np.asarray(truth, float)
            a, b = np.asarray(ours.predictions, float), np.asarray(theirs.predictions, float)
            paired = loss_difference("rmse", y, a, b)
            z[kind].append(paired.loss_gain / paired.loss_error)
            absolute = loss_difference("mae", y, a, b)
            z_mae[kind].append(absolute.loss_gain / absolute.loss_error)
            gained = (a - y) ** 2 - (b - y) ** 2
            squares = np.sort((gained - gained.mean()) ** 2)[::-1]
            tail.append(squares[: len(y) // 100].sum() / squares.sum())
            kurtosis.append(np.mean(squares**2) / np.mean(squares) ** 2)
            # gained = (a - b)(a + b - 2 value) - 2 (a - b) noise: the price noise's part of its variance.
            noise_share.append(4 * HOUSE_NOISE**2 * np.mean((a - b) ** 2) / np.var(gained))
            if kind == "A/B":
                before, after = lab.test_score(champion), lab.test_score(challenger)
                gains.append((before - after) / before)
                holdout_gains.append((ours.metrics["rmse"] - theirs.metrics["rmse"]) / ours.metrics["rmse"])
    ab, aa = np.array(z["A/B"]), np.array(z["A/A"])
    print(f"{args.dataset}: {args.trials} A/A and A/B pairs from version {args.offset}")
    print(f"A/B RMSE lower on the test set: mean {np.mean(gains):.1%}, smallest {np.min(gains):.1%}")
    print(f"z: A/B mean {ab.mean():.2f} (sd {ab.std():.2f}), A/A mean {aa.mean():.2f} (sd {aa.std():.2f})")
    for level in LEVELS:
        bar = norm.ppf(1 - level)
        deployed, noise = np.mean(ab > bar), np.sum(aa > bar)
        print(f"one-sided {level:<6} (z > {bar:.2f}): A/B deployed {deployed:.0%}, A/A {noise}/{len(aa)}")
    mae_ab, mae_aa = np.array(z_mae["A/B"]), np.array(z_mae["A/A"])
    for level in LEVELS[:2]:
        bar = norm.ppf(1 - level)
        deployed, noise = np.mean(mae_ab > bar), np.sum(mae_aa > bar)
        print(f"judged on MAE, one-sided {level}: A/B deployed {deployed:.0%}, A/A {noise}/{len(aa)}")
    # z grows in proportion to the gain on the holdout: scale it to a gain of exactly 5%.
    per_gain = float(np.median(ab / np.array(holdout_gains)))
    print(f"A/B z per unit of relative RMSE gain on the holdout: median {per_gain:.1f}")
    for level in LEVELS[:2]:
        power = 1 - norm.cdf(norm.ppf(1 - level) - 0.05 * per_gain)
        print(f"a challenger with exactly 5% lower RMSE, one-sided {level}: deployed about {power:.0%}")
    print(f"top 1% of rows' share of the variance of the squared-error difference: median {np.median(tail):.0%} "
          f"[{np.min(tail):.0%}, {np.max(tail):.0%}]; kurtosis median {np.median(kurtosis):.0f}; "
          f"the price noise's share of that variance: median {np.median(noise_share):.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
