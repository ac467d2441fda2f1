"""The floor's two views, each answering a `dataframe_split` body in the app's answer shape.

- /bare: orjson-decodes the body and answers fixed labels and probabilities: the stack alone.
- /infer: the same, through the same compiled model the app serves (predictor/serving/inference.py,
  compiled at start from the pickled pipeline FLOOR_MODEL names): the stack plus inference, and
  nothing the app adds around it (the input check, ids, the log, keys, middleware).
"""

import os
import pickle
import threading

import numpy as np
import orjson
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from predictor.serving import inference

with open(os.environ["FLOOR_MODEL"], "rb") as file:
    _model = pickle.load(file)  # written by the bench a moment before
_compiled = inference.compile_model(_model)
_classes = _model.classes_
# As the app: one prediction at a time per process (the work holds the GIL anyway).
_lock = threading.Lock()


def _columns(split: dict) -> dict[str, np.ndarray]:
    out = {}
    for name, values in zip(split["columns"], zip(*split["data"], strict=True), strict=True):
        try:
            out[name] = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            out[name] = np.array(values, dtype=object)
    return out


def _answer(probabilities: np.ndarray) -> HttpResponse:
    body = {
        "predictions": _classes[probabilities.argmax(axis=1)].tolist(),
        "classes": _classes.tolist(),
        "probabilities": probabilities,
    }
    return HttpResponse(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), content_type="application/json")


@csrf_exempt
def bare(request):  # type: ignore[no-untyped-def]
    rows = len(orjson.loads(request.body)["dataframe_split"]["data"])
    probabilities = np.zeros((rows, len(_classes)))
    probabilities[:, 0] = 1.0
    return _answer(probabilities)


@csrf_exempt
def infer(request):  # type: ignore[no-untyped-def]
    columns = _columns(orjson.loads(request.body)["dataframe_split"])
    with _lock:
        probabilities = np.ascontiguousarray(_compiled.predict_proba(columns), dtype=np.float64)
    return _answer(probabilities)


urlpatterns = [path("bare", bare), path("infer", infer)]
