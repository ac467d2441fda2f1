"""RECENT_ROWS_SHARE: how much weight should the rows new since the champion's data carry?

The setting of bench/feedback_loop.py, without the servers: the champion's data is the demo's batch
3 (the README's steps 2 to 4), and a run after the shift trains on it plus labelled traffic as the
loop publishes it (`--pre` rows of traffic from before the shift, then `--rows` shifted ones, drawn
by the demo traffic from batch 3's customers). The data is split as the
pipeline splits it; the training side is fitted by the product's own code (ml.estimators.train,
the demo's forest) with the rows new since batch 3 weighted to each share; each forest is scored
on shifted traffic (live accuracy, and precision of the churners, the guard that refused the
loop's challengers) and on traffic from before the shift (what the old world loses). A forest
fitted on the shifted training rows only is set beside, as feedback_loop.py's "split forest".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workspace import isolated_django

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[300, 600, 1200], help="shifted rows published")
    parser.add_argument("--pre", type=int, default=360, help="rows published from before the shift")
    parser.add_argument("--shares", type=float, nargs="+", default=[0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--score-rows", type=int, default=4000)
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/recent_share.py {' '.join(sys.argv[1:])}", flush=True)
    isolated_django("bench-recent-", DEMO_DATASET="churn", LOG_LEVEL="WARNING")
    import numpy as np
    import pandas as pd
    from django.conf import settings

    from demo import traffic
    from demo.batches import demo_frame
    from ml.estimators import train
    from ml.features import prepare_features
    from ml.metrics import label_metrics
    from ml.split import holdout_mask, split_key
    from ml.weights import recent_weights

    target, params = settings.TARGET_COLUMN, settings.TRAINING_PARAMS
    old = demo_frame(3)
    features = [c for c in old.columns if c != target]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(old[c])]
    model = traffic.ServedModel("bench", "3", features, [], ["no", "yes"], 10_000, len(old))

    def frame(records: list[dict], labels: list[str]) -> pd.DataFrame:
        drawn = pd.DataFrame(records)[features].assign(**{target: labels})
        return drawn.assign(**{c: pd.to_numeric(drawn[c]) for c in numeric})

    def scores(fitted, scored: pd.DataFrame) -> tuple[float, float]:
        predicted = fitted.predict(prepare_features(scored, target))
        metrics = label_metrics(scored[target].to_numpy(), predicted, positive="yes")
        return metrics["accuracy"], metrics["precision"]

    print(f"{'rows':>5} {'share':>5} {'new':>5} {'train':>5}  shifted acc  prec   before acc   ({args.seeds} seeds)")
    for rows in args.rows:
        table: dict[float, list[tuple[float, float, float]]] = {share: [] for share in [*args.shares, -1.0]}
        for seed in range(args.seeds):
            pool = traffic.build_rows("churn", model, seed=seed)
            rng = np.random.default_rng(seed)
            parts = [old, frame(*pool.draw(rng, args.pre, False)), frame(*pool.draw(rng, rows, True))]
            data = pd.concat(parts, ignore_index=True)
            # Every published row is new since batch 3 as a multiset (a customer drawn again is a new observation).
            origin = np.repeat([0, 1, 2], [len(part) for part in parts])
            kept = ~holdout_mask(data, settings.HOLDOUT_FRACTION, split_key(data, target))
            training, recent, shifted_rows = data[kept], origin[kept] > 0, origin[kept] == 2
            shifted = frame(*pool.draw(np.random.default_rng(seed + 100), args.score_rows, True))
            before = frame(*pool.draw(np.random.default_rng(seed + 200), args.score_rows, False))
            for share in args.shares:
                fitted = train(training, target, "random_forest", params, 42, weights=recent_weights(recent, share))
                table[share].append((*scores(fitted, shifted), scores(fitted, before)[0]))
            fitted = train(training[shifted_rows], target, "random_forest", params, 42)
            table[-1.0].append((*scores(fitted, shifted), scores(fitted, before)[0]))
        for share, found in table.items():
            accuracy, precision, kept_accuracy = np.mean(found, axis=0)
            name = "alone" if share < 0 else f"{share:.2f}"
            print(
                f"{rows:>5} {name:>5} {int(recent.sum()):>5} {len(training):>5}  {accuracy:.3f}       "
                f"{precision:.3f}  {kept_accuracy:.3f}"
            )
        print(flush=True)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"{time.monotonic() - started:.0f} s")
