"""What each part of a prediction request costs, in process: the profile behind docs/benchmarks.md.

Registers the bench model (bench/predict.py), then times, each the median of many calls on the
same one-row (or --rows) `dataframe_split` body: the whole request through Django's handler with
the configured middleware and with none, and each part of the predict path on its own: decoding,
the input check, inference, the ids and the log enqueue, the API key and its Redis counter
(--redis-url), and encoding the answer.

Usage: .venv/bin/python bench/request_path.py [--rows 1] [--repeat 3000] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3000)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-request-path-"))
    os.environ.update({"VAR_DIR": str(workdir / "var"), "MODEL_NAME": f"bench-{uuid.uuid4().hex[:6]}"})
    os.environ.pop("DATABASE_URL", None)
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import orjson
    import predict as app_bench
    from django.conf import settings
    from django.core.cache import cache
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from predictor import predlog
    from predictor.api import apikeys, inputs, views
    from predictor.api import predict as predict_function
    from predictor.models import ApiKey
    from predictor.serving.holder import holder

    _, frame, _ = app_bench._register_model("penguins")
    models = holder()
    models.sync()
    served = models.current
    rows = app_bench._rows(frame, args.rows)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    settings.ALLOWED_HOSTS = ["testserver"]
    repeat = args.repeat

    def request_time(middleware: list[str], headers: dict[str, str] | None = None) -> float:
        settings.MIDDLEWARE = middleware
        environ = RequestFactory().post("/api/v1/predict", body, content_type="application/json", headers=headers)
        environ = environ.environ
        handler = WSGIHandler()
        return _median(lambda: b"".join(handler({**environ, "wsgi.input": io.BytesIO(body)}, _start)), repeat)

    full = list(settings.MIDDLEWARE)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {args.rows} row(s), {repeat} requests each")
    figures = {
        "whole request, all middleware": request_time(full),
        "whole request, no middleware": request_time([]),
        "whole request, django-csp's own middleware": request_time(
            [m.replace("config.csp_policy.", "csp.middleware.") for m in full]
        ),
    }
    settings.MIDDLEWARE = full
    decoded = orjson.loads(body)
    checked = inputs.check(decoded, served.schema, served.category_sets, 10_000, served.ignored, served.dates)
    figures["decode (orjson.loads)"] = _median(lambda: orjson.loads(body), repeat)
    figures["input check (inputs.check)"] = _median(
        lambda: inputs.check(decoded, served.schema, served.category_sets, 10_000, served.ignored, served.dates),
        repeat,
    )
    figures["inference (compiled predict_proba)"] = _median(
        lambda: served.compiled.predict_proba(checked.columns), repeat
    )
    answer = predict_function._infer(served, checked)
    figures["ids (predlog.new_ids)"] = _median(lambda: predlog.new_ids(args.rows), repeat)
    ids = predlog.new_ids(args.rows)
    probabilities = answer["probabilities"]
    figures["log enqueue (predlog.record)"] = _median(
        lambda: predlog.record(ids, served, checked.columns, answer["predictions"], probabilities, None), repeat
    )
    predlog.writer().flush(timeout=60)
    figures["predict function, whole (predict.predict)"] = _median(
        lambda: predict_function.predict(decoded, served, models, None), repeat
    )
    outcome = predict_function.predict(decoded, served, models, None)
    figures["encoding (orjson.dumps + HttpResponse)"] = _median(
        lambda: views.json_response(outcome.body, 200, served, **{"X-Prediction-Id": ",".join(outcome.ids)}), repeat
    )
    figures["settings lookups (3 on the path)"] = _median(
        lambda: (settings.API_KEYS_REQUIRED, settings.PREDICT_MAX_ROWS, settings.PREDICTION_LOG_SAMPLE), repeat
    )
    if args.redis_url:
        key, prefix, hashed = apikeys.generate()
        ApiKey.objects.create(name="bench", prefix=prefix, hashed_key=hashed, rate_limit=10**9)
        info = apikeys.authenticate(key)
        figures["API key (apikeys.authenticate, remembered)"] = _median(lambda: apikeys.authenticate(key), repeat)
        figures["rate limit (apikeys.over_limit, Redis)"] = _median(lambda: apikeys.over_limit(info), repeat)
        figures["the same count through Django's cache API (add, incr)"] = _median(
            lambda: (cache.add("bench:count", 0, timeout=120), cache.incr("bench:count")), repeat
        )
        settings.API_KEYS_REQUIRED = True
        figures["whole request with a key, all middleware"] = request_time(full, {"Authorization": f"Bearer {key}"})
        settings.API_KEYS_REQUIRED = False
    predlog.writer().flush(timeout=60)
    width = max(map(len, figures))
    for name, seconds in figures.items():
        print(f"{name:<{width}}  {seconds * 1e6:8.1f} us")


def _start(status: str, headers: list) -> None:
    pass


def _median(call: Callable[[], object], repeat: int) -> float:
    for _ in range(min(200, repeat)):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
