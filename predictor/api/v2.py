"""The Open Inference Protocol (V2, as KServe, Triton and MLServer speak it) over REST: an adapter
over the one predict function (predictor/api/predict.py), so that tritonclient and the KServe SDK
work unchanged against the served model.

One input per column of the model's input schema (shape [n] or [n, 1]), handed to the predict
function as the columns they are (`inputs.Columns`, never turned into rows); the answer is the
predictions and one output per class with its probability (`probability_<class>`, each a column
of the probabilities' array), or a regressor's numbers. The prediction ids and the model
version go in the response's `parameters` and in the headers /api/v1/predict sends. `{name}` is
the served model's name; a version in the path must be the served one. Errors are V2's
`{"error": "..."}`, the message naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ml.contract import NUMERIC_TYPES
from predictor.api import admission, inputs
from predictor.api import predict as predict_function
from predictor.api.v2_binary import (
    DATATYPES,
    HEADER_LENGTH,
    NUMERIC,
    V2Error,
    datatype_of,
    from_binary,
    split,
    to_binary,
)
from predictor.api.views import json_response, not_allowed, refused, respond
from predictor.serving.holder import ServedModel, holder

# A column's type in the model's schema, as a V2 datatype (a date is sent as ISO 8601 text).
_DATATYPE = {"double": "FP64", "float": "FP64", "long": "INT64", "integer": "INT64", "boolean": "BOOL"}
# How many of a refusal's bad values are named in V2's one-line error; the rest are in `errors`.
_NAMED = 5


def _refuse(error: V2Error, served: ServedModel | None) -> HttpResponse:
    return json_response({"error": error.message}, error.status, served)


def _check_model(served: ServedModel, name: str, version: str | None) -> None:
    if name != served.name:
        raise V2Error(f"model '{name}' is not served here: this server serves '{served.name}'", 404)
    if version is not None and version != served.version:
        raise V2Error(
            f"version {version} of '{name}' is not served: this server serves version {served.version} "
            "(leave the version out to use it)",
            404,
        )


@csrf_exempt
def server_metadata(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return not_allowed(holder().current, "GET")
    body = {"name": "retraining-model-service", "version": "1", "extensions": ["binary_tensor_data"]}
    return json_response(body, 200, holder().current)


@csrf_exempt
def live(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return not_allowed(holder().current, "GET")
    return json_response({"live": True}, 200, holder().current)


@csrf_exempt
def ready(request: HttpRequest) -> HttpResponse:
    """Ready when a model is served and the active version did not fail to load, as /readyz."""
    models = holder()
    served = models.current
    if request.method != "GET":
        return not_allowed(served, "GET")
    if served is None or models.error:
        return json_response({"ready": False, "error": models.error or "no model is loaded yet"}, 503, served)
    return json_response({"ready": True}, 200, served)


def _model_of(request: HttpRequest, name: str, version: str | None) -> tuple[ServedModel | None, HttpResponse | None]:
    """The served model when the path names it (and the key is good), else the refusal."""
    served, _, refusal = admission.admit(request, holder(), "GET", admission.NO_MODEL)
    if refusal is not None:
        return served, refused(refusal, served)
    try:
        _check_model(served, name, version)
    except V2Error as exc:
        return served, _refuse(exc, served)
    return served, None


@csrf_exempt
def model_metadata(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    served, refusal = _model_of(request, name, version)
    if refusal is not None:
        return refusal
    # A date column is sent as ISO 8601 text (a string), in place of the parts the model reads.
    sent = inputs.as_sent(served.schema, served.dates)
    body = {
        "name": served.name,
        "versions": [served.version],
        "platform": "mlflow-sklearn",
        "inputs": [{"name": c.name, "datatype": _DATATYPE.get(c.type, "BYTES"), "shape": [-1]} for c in sent],
        "outputs": [{"name": n, "datatype": t, "shape": [-1]} for n, t in _outputs_of(served)],
    }
    return json_response(body, 200, served)


@csrf_exempt
def model_ready(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    served, refusal = _model_of(request, name, version)
    if refusal is not None:
        return refusal
    return json_response({"name": served.name, "ready": True}, 200, served)


def _outputs_of(served: ServedModel) -> list[tuple[str, str]]:
    """(name, datatype) of each output the model answers."""
    if served.classes is None:
        return [("predictions", "FP64" if served.task == "regression" else "BYTES")]
    probabilities = [(f"probability_{c}", "FP64") for c in served.classes.tolist()]
    return [("predictions", datatype_of(served.classes)), *probabilities]


@csrf_exempt
def infer(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    models = holder()
    served, key, refusal = admission.admit(request, models, "POST", admission.NO_MODEL)
    if refusal is not None:
        return refused(refusal, served)
    with admission.one_at_a_time_if_large(request):
        try:
            _check_model(served, name, version)
            raw = request.body
            header, tensors = split(raw, request.headers.get(HEADER_LENGTH))
            try:
                body = orjson.loads(header)
            except orjson.JSONDecodeError as exc:
                raise V2Error(f"the inference request is not valid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise V2Error("the inference request must be a JSON object with 'inputs'")
            if not isinstance(body.get("id", ""), str):
                raise V2Error("'id' must be a string")
            columns = _as_columns(body, tensors, served)
            wanted = _wanted(body, served)
        except RequestDataTooBig:
            return _refuse(V2Error("the body is too large: send fewer rows per request", 413), served)
        except V2Error as exc:
            return _refuse(exc, served)
        outcome = predict_function.predict(columns, served, models, key)
    headers = admission.answer_headers(outcome)
    if outcome.status != 200:
        return json_response(_error_of(outcome.body), outcome.status, served, **headers)
    return _answer(body, outcome.body, served, wanted, headers)


def _as_columns(body: dict[str, Any], tensors: bytes, served: ServedModel) -> inputs.Columns:
    """The V2 inputs as the body in columns the predict function takes: one column per input, as sent."""
    given = body.get("inputs")
    if not isinstance(given, list) or not given:
        raise V2Error("the inference request must have 'inputs': a list of one input per column")
    types = {c.name: c.type for c in served.schema}
    names, columns, at = [], [], 0
    for tensor in given:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise V2Error("every input must be an object with a 'name', a 'datatype', a 'shape' and its data")
        name, datatype = tensor["name"], tensor.get("datatype")
        if not isinstance(datatype, str) or datatype not in DATATYPES:
            raise V2Error(f"input '{name}': datatype {datatype!r} is not one of {', '.join(sorted(DATATYPES))}")
        if datatype in NUMERIC and name in types and types[name] not in NUMERIC_TYPES:
            raise V2Error(f"input '{name}' is {datatype}, but the model's column is {types[name]}: send BYTES or BOOL")
        count = _rows_of(name, tensor.get("shape"))
        size = _parameters(tensor, f"input '{name}'").get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or at + size > len(tensors):
                raise V2Error(f"input '{name}': binary_data_size {size!r} runs past the body's binary data")
            values = from_binary(name, datatype, tensors[at : at + size], count)
            at += size
        else:
            values = _from_json(name, tensor.get("data"), count)
        names.append(name)
        columns.append(values)
    if len({len(c) for c in columns}) > 1:
        shown = ", ".join(f"{n}: {len(c)}" for n, c in zip(names, columns, strict=True))
        raise V2Error(f"every input must have the same number of rows, got {shown}")
    if len(set(names)) != len(names):
        raise V2Error("an input is named more than once: send one input per column")
    return inputs.Columns(dict(zip(names, columns, strict=True)))


def _rows_of(name: str, shape: Any) -> int:
    if type(shape) is list and len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0:
        return shape[0]  # the usual [n], without the walk below
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or len(shape) not in (1, 2)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise V2Error(f"input '{name}': shape {shape!r} is not [n] or [n, 1]: send one input per column")
    return shape[0]


def _from_json(name: str, data: Any, count: int) -> list[Any]:
    if not isinstance(data, list):
        raise V2Error(f"input '{name}' has no 'data' list (nor binary_data_size)")
    if data and all(isinstance(v, list) for v in data):
        # [n, 1] written nested, row by row.
        if any(len(v) != 1 for v in data):
            raise V2Error(f"input '{name}': nested data must hold one value per row")
        data = [v[0] for v in data]
    if len(data) != count:
        raise V2Error(f"input '{name}': {len(data)} values, but its shape says {count}")
    return data


def _wanted(body: dict[str, Any], served: ServedModel) -> list[tuple[str, bool]]:
    """(name, as binary) of each output to send: those asked for, else all."""
    default = _flag(_parameters(body, "the request"), "binary_data_output", False)
    known = [name for name, _ in _outputs_of(served)]
    asked = body.get("outputs")
    if asked is None:
        return [(name, default) for name in known]
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise V2Error("'outputs' must be a list of objects with a 'name'")
    unknown = [o["name"] for o in asked if o["name"] not in known]
    if unknown:
        raise V2Error(f"unknown output(s) {', '.join(unknown)}: this model's outputs are {', '.join(known)}")
    return [(o["name"], _flag(_parameters(o, f"output '{o['name']}'"), "binary_data", default)) for o in asked]


def _parameters(part: dict[str, Any], whose: str) -> dict[str, Any]:
    parameters = part.get("parameters")
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise V2Error(f"the parameters of {whose} must be an object")
    return parameters


def _flag(parameters: dict[str, Any], name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise V2Error(f"parameter '{name}' must be true or false, got {value!r}"[:120])
    return value


def _error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The predict function's refusal as V2's one-line error, its first bad values named in it."""
    errors = body.get("errors") or []
    if not errors:
        return body
    named = "; ".join(
        " ".join(p for p in (f"row {e['row']}" if e.get("row") is not None else "", e.get("field") or "") if p)
        + f": {e['message']}"
        for e in errors[:_NAMED]
    )
    more = f" (and {len(errors) - _NAMED} more)" if len(errors) > _NAMED else ""
    return {"error": f"{body['error']}: {named}{more}", "errors": errors}


def _answer(
    request_body: dict[str, Any],
    answer: dict[str, Any],
    served: ServedModel,
    wanted: list[tuple[str, bool]],
    headers: dict[str, str],
) -> HttpResponse:
    datatypes = dict(_outputs_of(served))
    if served.classes is None and served.task != "regression":
        # A model without probabilities: its predictions say their own type.
        datatypes["predictions"] = datatype_of(np.asarray(answer["predictions"]))
    values: dict[str, tuple[str, Sequence[Any] | np.ndarray]] = {
        "predictions": (datatypes["predictions"], answer["predictions"])
    }
    if answer.get("classes"):
        # One array per class, each contiguous, so orjson and the binary extension write it as it is.
        by_class = np.ascontiguousarray(answer["probabilities"].T)
        for label, column in zip(answer["classes"], by_class, strict=True):
            values[f"probability_{label}"] = ("FP64", column)
    parameters: dict[str, Any] = {"model_version": served.version, "prediction_ids": ",".join(answer["prediction_ids"])}
    if answer.get("warnings"):
        parameters["warnings"] = "; ".join(answer["warnings"])
    outputs, chunks = [], []
    for name, binary in wanted:
        datatype, data = values[name]
        output: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [len(data)]}
        if binary:
            chunks.append(to_binary(datatype, data))
            output["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            output["data"] = data
        outputs.append(output)
    body: dict[str, Any] = {"model_name": served.name, "model_version": served.version}
    if isinstance(request_body.get("id"), str):
        body["id"] = request_body["id"]
    body |= {"parameters": parameters, "outputs": outputs}
    if not chunks:
        return json_response(body, 200, served, **headers)
    header = orjson.dumps(body)
    headers = {HEADER_LENGTH: str(len(header)), **headers}
    return respond(header + b"".join(chunks), 200, served, "application/octet-stream", **headers)
