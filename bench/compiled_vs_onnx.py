"""The app's compiled inference next to ONNX Runtime, in process, on the product's own pipelines.

Trains the product's pipeline (ml/estimators.py: imputer + scaler for numbers, imputer +
one-hot for categories, then a RandomForest of 100 trees) on two datasets: bench/pipeline.py's
synthetic rows (numbers, a category, gaps; three classes) and scikit-learn's breast-cancer data
(30 numbers, two classes). Converts each with skl2onnx (double precision where the converter
allows it, no ZipMap) and times, on 1 and on 1,000 rows, from a DataFrame to probabilities:
scikit-learn's predict_proba, predictor/serving/inference.py's compiled path, and ONNX Runtime (one
session thread and the default). Prints the largest difference from predict_proba of each.

Runs in the BentoML bench virtualenv (bench/requirements-bentoml.txt holds skl2onnx and
onnxruntime); started with the app's python it re-runs itself there.
Usage: .venv/bin/python bench/compiled_vs_onnx.py
(named so that it does not shadow the `onnx` package in its own folder)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        import peers

        python = peers.venv_python("bentoml")
        os.execv(python, [str(python), __file__, *sys.argv[1:]])
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    sys.path.insert(0, str(ROOT))
    from pipeline import synthetic

    from ml.estimators import train
    from ml.features import prepare_features
    from predictor.serving import inference

    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    datasets = {
        "synthetic (6 numbers with gaps, 1 category)": (synthetic(20_000, seed=1), "label"),
        "breast cancer (30 numbers)": (load_breast_cancer(as_frame=True).frame, "target"),
    }
    header = f"{'data':<44}{'rows':>6}  {'predict_proba':>13}  {'compiled':>9}  {'onnx 1 thr':>10}  {'onnx dflt':>9}"
    print(f"\nms per call (median), from a DataFrame to probabilities\n{header}")
    diffs = []
    for label, (data, target) in datasets.items():
        model = train(data, target, "random_forest", {"n_estimators": 100}, 42)
        features = prepare_features(data, target)
        compiled = inference.compile_model(model)
        sessions, precision = _onnx_sessions(model, features)
        for n in (1, 1000):
            rows = features.sample(n, replace=True, random_state=n).reset_index(drop=True)
            expected = model.predict_proba(rows)
            ours = compiled.predict_proba(inference.columns_of(rows))
            theirs = sessions[0].run(["probabilities"], _feeds(sessions[0], rows))[0]
            times = _times(model, compiled, sessions, rows)
            print(f"{label:<44}{n:>6}  " + "  ".join(f"{t:>{w}.3f}" for t, w in zip(times, WIDTHS, strict=True)))
            diffs.append((label, n, float(np.abs(ours - expected).max()), float(np.abs(theirs - expected).max())))
    print(f"\nlargest |difference| from predict_proba (ONNX in {precision})")
    for label, n, ours, theirs in diffs:
        print(f"{label:<44}{n:>6}  compiled {ours:.3g}  onnx {theirs:.3g}")


WIDTHS = (13, 9, 10, 9)


def _times(model, compiled, sessions, rows) -> list[float]:  # type: ignore[no-untyped-def]
    from predictor.serving import inference

    n = len(rows)
    return [
        _median_ms(lambda: model.predict_proba(rows), n),
        _median_ms(lambda: compiled.predict_proba(inference.columns_of(rows)), n),
        *[_median_ms(lambda s=s: s.run(["probabilities"], _feeds(s, rows)), n) for s in sessions],
    ]


def _onnx_sessions(model, features):  # type: ignore[no-untyped-def]
    """(sessions with 1 thread and with the default threads, precision): double if skl2onnx
    converts the pipeline that way, else float (ONNX's usual)."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    from ml.contract import is_numeric

    model = _with_string_gaps(model)
    for precision, number in (("double", DoubleTensorType), ("float", FloatTensorType)):
        _FEED_TYPES["number"] = "float64" if precision == "double" else "float32"
        types = [
            (name, number([None, 1]) if is_numeric(features[name]) else StringTensorType([None, 1]))
            for name in features.columns
        ]
        try:
            onnx_model = convert_sklearn(
                model,
                initial_types=types,
                options={id(model.steps[-1][1]): {"zipmap": False}},
                target_opset={"": 17, "ai.onnx.ml": 3},
                final_types=None,
            )
            _rename_probabilities(onnx_model)
            sessions = []
            for threads in (1, 0):
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                sessions.append(ort.InferenceSession(onnx_model.SerializeToString(), options))
            sessions[0].run(["probabilities"], _feeds(sessions[0], features.head(3)))
        except Exception as exc:
            print(f"skl2onnx/onnxruntime in {precision}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        return sessions, precision
    raise SystemExit("skl2onnx could not convert the pipeline")


_FEED_TYPES = {"number": "float64"}


def _with_string_gaps(model):  # type: ignore[no-untyped-def]
    """skl2onnx converts a string imputer only when its missing value is a string: a copy whose
    categorical imputer looks for "", which is how _feeds sends a gap (the same rows are filled)."""
    import copy

    from ml.contract import CATEGORICAL, IMPUTE, PREPROCESS

    model = copy.deepcopy(model)
    for name, transformer, _ in model.named_steps[PREPROCESS].transformers_:
        if name == CATEGORICAL and hasattr(transformer, "named_steps"):
            transformer.named_steps[IMPUTE].missing_values = ""
    return model


def _rename_probabilities(onnx_model) -> None:  # type: ignore[no-untyped-def]
    old = onnx_model.graph.output[1].name
    for node in onnx_model.graph.node:
        node.output[:] = ["probabilities" if out == old else out for out in node.output]
    onnx_model.graph.output[1].name = "probabilities"


def _feeds(session, rows):  # type: ignore[no-untyped-def]
    """ONNX Runtime's inputs: one (n, 1) array per column; a missing category is the empty string."""
    import numpy as np

    from ml.contract import is_numeric

    feeds = {}
    for node, name in zip(session.get_inputs(), rows.columns, strict=True):
        column = rows[name]
        if is_numeric(column):
            feeds[node.name] = column.to_numpy(dtype=_FEED_TYPES["number"]).reshape(-1, 1)
        else:
            feeds[node.name] = np.array([("" if v is None else str(v)) for v in column], dtype=object).reshape(-1, 1)
    return feeds


def _median_ms(call, n: int) -> float:  # type: ignore[no-untyped-def]
    call()
    repeat = 200 if n == 1 else 30
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


if __name__ == "__main__":
    main()
