"""How soon the drift check sees a change in live traffic: detection delay in rows and in time.

The watch task (retraining/monitoring/triggers.py) compares the newest DRIFT_WINDOW_ROWS logged inputs of the
champion (at most DRIFT_WINDOW_HOURS old) with its training profile every MONITOR_INTERVAL seconds.
When traffic changes, the window fills with changed rows little by little: the check calls drift
once enough of it changed. This bench finds, by bisection, the smallest number of changed rows in
the window that the default thresholds call drift, for windows full of unchanged rows before the
change (steady traffic) of several sizes; over `--references` training profiles (257 rows, the
penguins training split) x `--draws` live streams, the same penguin-like inputs as
bench/drift_power.py. Time to detection is then rows / traffic rate, plus up to one interval.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RATES = (1, 10, 100)  # predictions a second
INTERVAL = 60  # MONITOR_INTERVAL's default, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=10)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--windows", default="1000,5000", help="window sizes in rows (DRIFT_WINDOW_ROWS is 5000)")
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/drift_delay.py", flush=True)
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    from drift_power import penguins

    from ml.drift.drift import DRIFT, Thresholds, measure
    from ml.drift.profile import build_profile

    thresholds = Thresholds()
    changes = {
        "body mass + 1 sd": {"mass_shift": 1.0},
        "body mass + 2 sd": {"mass_shift": 2.0},
        "island mix: 20 points of Biscoe to Torgersen": {"biscoe_to_torgersen": 0.2},
        "a new island in 10% of rows": {"new_island": 0.1},
    }
    windows = [int(w) for w in args.windows.split(",")]
    header = "| change | " + " | ".join(f"window {w:,} rows: changed rows needed (median, worst)" for w in windows)
    print(header + " | time at " + ", ".join(f"{r}/s" for r in RATES) + f" (window {windows[-1]:,}) |")
    print("|---" * (len(windows) + 2) + "|")
    for label, change in changes.items():
        cells, last = [], []
        for window in windows:
            needed = []
            for r in range(args.references):
                profile = build_profile(penguins(257, 1000 + r), None)
                for d in range(args.draws):
                    before = penguins(window, 3000 + 100 * r + d)
                    after = penguins(window, 5000 + 100 * r + d, **change)

                    def found(
                        k: int, before: pd.DataFrame = before, after: pd.DataFrame = after, profile=profile
                    ) -> bool:
                        frame = pd.concat([before.iloc[k:], after.iloc[:k]], ignore_index=True)
                        return measure(frame, profile, thresholds=thresholds).verdict == DRIFT

                    needed.append(smallest(found, window))
            detected = [k for k in needed if k is not None]
            missed = len(needed) - len(detected)
            if not detected:
                cells.append("never")
                continue
            median, worst = statistics.median(detected), max(detected)
            share = f"{median:,.0f} ({median / window:.0%}), worst {worst:,}"
            cells.append(share + (f", missed {missed}/{len(needed)}" if missed else ""))
            last = [median / rate + INTERVAL / 2 for rate in RATES]
        times = ", ".join(_duration(seconds) for seconds in last) if last else "-"
        print(f"| {label} | " + " | ".join(cells) + f" | {times} |", flush=True)
    print(f"\ntime = median changed rows / rate + half of MONITOR_INTERVAL ({INTERVAL} s) on average")


def smallest(found, window: int) -> int | None:
    """The smallest k in 1..window with found(k), assuming detection grows with k (bisection)."""
    if not found(window):
        return None
    low, high = 0, window
    while high - low > max(1, window // 200):
        middle = (low + high) // 2
        low, high = (low, middle) if found(middle) else (middle, high)
    return high


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


if __name__ == "__main__":
    main()
