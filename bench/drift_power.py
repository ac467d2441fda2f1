"""How often the drift verdict is wrong: false alarms on unchanged inputs, and detection power.

Penguin-like inputs (a continuous number with 1% gaps, a rounded number, a number with three values,
two categories, one with 3% gaps) are drawn from a known distribution. The reference profile is
built from one draw the size of the penguins model's training split (257 rows) or larger; live
samples are drawn again (A/A) or with one change (A/B). Every rate is over `--references`
reference draws x `--draws` live draws, with its 95% Wilson interval, under the default PSI and
alpha; the minimum number of rows is lowered to 1 so that samples below it are measured too. The
worst single reference is shown as well: a model keeps one training profile for its whole life.
The real demo data is checked too: batch 2 (and 3) against the profile of batch 1's training split.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ISLANDS = ("Biscoe", "Dream", "Torgersen")
TRAINING_ISLANDS = (0.5, 0.35, 0.15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=10)
    parser.add_argument("--draws", type=int, default=100)
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/drift_power.py", flush=True)
    sys.path.insert(0, str(ROOT))
    from ml.drift.drift import DRIFT, Thresholds, measure
    from ml.drift.profile import build_profile

    thresholds = Thresholds(min_rows=1)

    def rate(reference_rows: int, rows: int, feature: str | None = None, **change: float) -> str:
        per_reference = []
        started = time.perf_counter()
        for r in range(args.references):
            profile = build_profile(penguins(reference_rows, 1000 + r), None)
            frame = penguins(rows * args.draws, 2000 + r, **change)
            found = 0
            for i in range(args.draws):
                report = measure(frame.iloc[i * rows : (i + 1) * rows], profile, thresholds=thresholds)
                found += report.verdict == DRIFT and (feature is None or feature in report.drifted)
            per_reference.append(found)
        hits, worst = sum(per_reference), max(per_reference) if feature is None else min(per_reference)
        total = args.references * args.draws
        low, high = wilson(hits, total)
        per_check = (time.perf_counter() - started) / total * 1000
        label = "worst reference" if feature is None else "weakest reference"
        return (
            f"{hits:>4}/{total} = {hits / total:6.1%}  [{low:5.1%}, {high:5.1%}]  "
            f"{label} {worst}/{args.draws}  ({per_check:.1f} ms a check)"
        )

    print("\nA/A: same distribution, any feature called drifted (false alarms)")
    for reference_rows in (257, 5000):
        for rows in (100, 200, 500, 1000, 5000):
            print(f"  reference {reference_rows:>5} rows, live {rows:>5} rows: {rate(reference_rows, rows)}")

    print("\nA/B: body_mass_g mean shifted by a fraction of its standard deviation, detected on body_mass_g")
    for shift in (0.25, 0.5, 1.0):
        for rows in (200, 500, 1000):
            print(f"  shift {shift:4} sd, live {rows:>5} rows: {rate(257, rows, 'body_mass_g', mass_shift=shift)}")

    print("\nA/B: island mix moved from (0.50, 0.35, 0.15), detected on island")
    for moved in (0.1, 0.2):
        for rows in (200, 500, 1000):
            change = {"biscoe_to_torgersen": moved}
            print(f"  {moved:.2f} of Biscoe to Torgersen, live {rows:>5} rows: {rate(257, rows, 'island', **change)}")
    for share in (0.05, 0.1):
        for rows in (200, 500):
            change = {"new_island": share}
            print(f"  {share:.0%} from a new island, live {rows:>5} rows: {rate(257, rows, 'island', **change)}")

    demo_batches(build_profile, measure)


def demo_batches(build_profile, compare) -> None:
    from demo.batches import demo_frame
    from ml.features import prepare_features
    from ml.split import split

    print("\nthe demo data: each batch against the profile of batch 1's training split (as the validate step)")
    training, _ = split(demo_frame(1), 0.25)
    profile = build_profile(prepare_features(training, "species"), None)
    for batch in (2, 3):
        report = compare(demo_frame(batch), profile)
        worst = max(report.features.items(), key=lambda item: item[1].psi)
        print(f"  batch {batch}: {report.summary()}; largest PSI {worst[0]} {worst[1].psi:.3f}")


def penguins(
    rows: int, seed: int, mass_shift: float = 0.0, biscoe_to_torgersen: float = 0.0, new_island: float = 0.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mass = rng.normal(4200 + mass_shift * 800, 800, rows)
    mass[rng.random(rows) < 0.01] = np.nan
    sex = rng.choice(["male", "female"], rows).astype(object)
    sex[rng.random(rows) < 0.03] = None
    biscoe, dream, torgersen = TRAINING_ISLANDS
    shares = np.array([biscoe - biscoe_to_torgersen, dream, torgersen + biscoe_to_torgersen, 0.0])
    shares = shares * (1 - new_island) + np.array([0, 0, 0, new_island])
    return pd.DataFrame(
        {
            "body_mass_g": mass,
            "bill_length_mm": rng.normal(44, 5.5, rows).round(1),
            "island": rng.choice([*ISLANDS, "Anvers"], rows, p=shares / shares.sum()),
            "sex": sex,
            "year": rng.choice([2007, 2008, 2009], rows),
        }
    )


def wilson(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - spread), min(1.0, centre + spread)


if __name__ == "__main__":
    main()
