"""What manage.py simulate_traffic's rows do to the drift check and to the first champion, per demo dataset.

The first champion as `make run` trains it: demo batch 1, the pipeline's split (HOLDOUT_FRACTION
0.25), a 100-tree forest, the training profile of its training rows. Against it:

- false alarms: windows of un-shifted traffic called drift, with rows drawn from the champion's
  own batch (what the command does) and from the whole dataset (what it would do without the
  served model's data version);
- detection: windows of shifted traffic called drift;
- the champion's accuracy on un-shifted and on shifted rows, with their true labels.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOWS = (500, 1200, 5000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100, help="windows per cell")
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/simulate_traffic.py --draws {args.draws}", flush=True)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import numpy as np
    import pandas as pd

    from demo import datasets, traffic
    from ml.drift.drift import DRIFT, measure
    from ml.drift.profile import build_profile
    from ml.estimators import train
    from ml.features import prepare_features
    from ml.split import split, split_key

    targets = {"churn": "churned", "penguins": "species"}
    print("| dataset | rows drawn from | " + " | ".join(f"false alarms, {n:,} rows" for n in WINDOWS), end="")
    print(" | shifted 500 rows called drift | accuracy un-shifted | accuracy shifted |")
    print("|---" * (len(WINDOWS) + 5) + "|")
    for dataset, target in targets.items():
        batch = datasets.batch(dataset, 1)
        training, _ = split(batch, 0.25, split_key(batch, target))
        features = prepare_features(training, target)
        champion = train(training, target, "random_forest", {"n_estimators": 100}, 42)
        profile = build_profile(features, None)
        required = [c for c in features.columns if features[c].notna().all()]
        classes = sorted(str(c) for c in batch[target].dropna().unique())
        served = traffic.ServedModel("bench", "1", list(features.columns), required, classes, 10_000, len(batch))
        for data_rows in (len(batch), None):
            rows = traffic.build_rows(dataset, replace(served, data_rows=data_rows))
            alarms = []
            for size in WINDOWS:
                called = 0
                for draw in range(args.draws):
                    records, _ = rows.draw(np.random.default_rng(draw), size, shifted=False)
                    called += measure(pd.DataFrame(records), profile).verdict == DRIFT
                alarms.append(f"{called}/{args.draws}")
            detected = 0
            for draw in range(args.draws):
                records, _ = rows.draw(np.random.default_rng(draw), 500, shifted=True)
                detected += measure(pd.DataFrame(records), profile).verdict == DRIFT
            accuracy = []
            for shifted in (False, True):
                records, labels = rows.draw(np.random.default_rng(0), 5000, shifted)
                predicted = champion.predict(prepare_features(pd.DataFrame(records)))
                accuracy.append(f"{(predicted == np.array(labels)).mean():.3f}")
            print(
                f"| {dataset} | {rows.source} | {' | '.join(alarms)} | {detected}/{args.draws} | "
                f"{accuracy[0]} | {accuracy[1]} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
