"""MLflow's scoring protocol, as `mlflow models serve` answers it, so MLflow's clients work unchanged:
POST /invocations (JSON or CSV), GET /ping, /health and /version.

/invocations is an adapter over the one predict function (predictor/api/predict.py), like
/api/v1/predict: the same API keys and rate limits (predictor/api/admission.py), validation, compiled
inference and prediction log. It only reads MLflow's bodies into one of predict's shapes and writes
MLflow's answer, `{"predictions": [...]}`. MLflow's body has no place for the prediction ids, so they
go in X-Prediction-Id (up to admission.HEADER_IDS rows), beside X-Model-Version.

Where we differ from MLflow's server, it is to say more: an error is MLflow's `{"error_code",
"message"}` with our message and, for bad rows, the `errors` list naming each row and field; a body
key MLflow would silently drop is refused, as on /api/v1/predict (a typo is caught); and every error,
415 included, is JSON.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ml.contract import NUMERIC_TYPES
from predictor.api import admission, inputs
from predictor.api import predict as predict_function
from predictor.api.views import respond
from predictor.serving.holder import ServedModel, holder

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"
# MLflow's error codes (mlflow.protos.databricks_pb2) for our statuses. MLflow has none for 405, 413
# or 415: those are BAD_REQUEST, the code its own server gives a body it cannot read.
_ERROR_CODES = {401: "UNAUTHENTICATED", 429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE"}
_TRUE = {"true", "True", "TRUE", "1"}
_FALSE = {"false", "False", "FALSE", "0"}


class _Unreadable(Exception):
    """The body cannot be read into rows: status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, body: dict[str, Any], served: ServedModel | None, **headers: str) -> HttpResponse:
    """MLflow's error shape, with our message and the bad rows when there are any."""
    shaped: dict[str, Any] = {"error_code": _ERROR_CODES.get(status, "BAD_REQUEST"), "message": body["error"]}
    if body.get("errors"):
        shaped["errors"] = body["errors"]
    return respond(orjson.dumps(shaped), status, served, **headers)


@csrf_exempt
def invocations(request: HttpRequest) -> HttpResponse:
    models = holder()
    served, key, refusal = admission.admit(request, models, "POST", admission.NO_MODEL)
    if refusal is not None:
        return _error(refusal.status, {"error": refusal.message}, served, **refusal.headers)
    with admission.one_at_a_time_if_large(request):
        try:
            body = _body(request, served)
        except _Unreadable as exc:
            return _error(exc.status, {"error": exc.message}, served)
        except RequestDataTooBig:
            return _error(413, {"error": "the body is too large: send fewer rows per request"}, served)
        outcome = predict_function.predict(body, served, models, key)
    headers = admission.answer_headers(outcome)
    if outcome.status != 200:
        return _error(outcome.status, outcome.body, served, **headers)
    answer = orjson.dumps({"predictions": outcome.body["predictions"]}, option=orjson.OPT_SERIALIZE_NUMPY)
    return respond(answer, 200, served, **headers)


def _body(request: HttpRequest, served: ServedModel) -> dict[str, Any] | inputs.Columns:
    """The request as one of predict's shapes, by its content type (with MLflow's charset rule)."""
    mime, *parameters = [part.strip() for part in (request.META.get("CONTENT_TYPE") or "").split(";")]
    options = {name.strip().lower(): value.strip() for name, _, value in (p.partition("=") for p in parameters)}
    if options.get("charset", "utf-8").lower() != "utf-8":
        raise _Unreadable(415, f"the body must be UTF-8, got charset {options['charset']}")
    mime = mime.lower()
    if mime == "application/json":
        return from_json(_decoded(request.body))
    if mime == "text/csv":
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Unreadable(400, f"the CSV body is not valid UTF-8: {exc}") from exc
        return from_csv(text, _sent_types(served))
    shown = mime or "none"
    raise _Unreadable(
        415,
        f"the body must be JSON (Content-Type: application/json) or CSV with a header row (text/csv), got {shown}",
    )


def _decoded(raw: bytes) -> Any:
    """The JSON body. MLflow's clients write a DataFrame's gaps as NaN (Python's json module does),
    which is not JSON and orjson refuses; MLflow's server reads it, so a body orjson refuses is read
    again by the json module, and a NaN is a gap like null (Infinity is then refused as no finite number)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise _Unreadable(400, f"the body is not valid JSON: {exc}") from exc


def from_json(body: Any) -> dict[str, Any] | inputs.Columns:
    """MLflow's JSON body as one of predict's shapes. `params` is accepted where MLflow accepts it and
    ignored: the served models take none. `inputs` comes as rows or as columns, as MLflow reads it;
    as columns it is handed over as they are, not turned into rows."""
    if not isinstance(body, dict):
        raise _Unreadable(400, f"the body must be a JSON object with one of the keys {', '.join(FORMATS)}")
    given = [key for key in FORMATS if key in body]
    extra = sorted(set(body) - set(FORMATS) - {PARAMS})
    if len(given) != 1 or extra:
        unknown = f"; unknown key(s): {', '.join(extra)}" if extra else ""
        raise _Unreadable(400, f"the body must have exactly one of the keys {', '.join(FORMATS)}{unknown}")
    if body.get(PARAMS) is not None and not isinstance(body[PARAMS], dict):
        raise _Unreadable(400, "'params' must be an object of parameter: value")
    shape = given[0]
    if shape != "inputs":
        return {shape: body[shape]}
    payload = body["inputs"]
    if isinstance(payload, list):
        return {"instances": payload}
    if not isinstance(payload, dict):
        raise _Unreadable(400, "'inputs' must be a list of rows or an object of columns (column: list of values)")
    if not all(isinstance(values, list) for values in payload.values()):
        raise _Unreadable(400, "'inputs' as columns must give each column a list of values")
    lengths = {len(values) for values in payload.values()}
    if len(lengths) > 1:
        raise _Unreadable(400, "'inputs' as columns must give every column the same number of values")
    return inputs.Columns(payload)


def _sent_types(served: ServedModel) -> dict[str, str]:
    """The type of each column a client sends (a date column as text in place of its parts)."""
    return {c.name: c.type for c in inputs.as_sent(served.schema, served.dates)}


def from_csv(text: str, types: dict[str, str]) -> dict[str, Any]:
    """CSV with a header row as `dataframe_split`, each cell read as its column's type: an empty cell is
    a gap (as pandas reads it), a number that is not one is left as text so the check names it."""
    # newline="": the csv module reads the line ends itself, so "\r\n", "\r" and a line break inside
    # quotes are all read as CSV means them.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise _Unreadable(400, "the CSV body must start with a header row naming the columns")
        readers = [_cell_reader(types.get(name)) for name in header]
        data = [[read(cell) for read, cell in zip(readers, row, strict=False)] + row[len(readers) :] for row in reader]
    except csv.Error as exc:
        raise _Unreadable(400, f"the CSV body cannot be read: line {reader.line_num}: {exc}") from exc
    return {"dataframe_split": {"columns": header, "data": [row for row in data if row]}}


def _cell_reader(kind: str | None) -> Any:
    if kind in NUMERIC_TYPES:
        return _number
    if kind == "boolean":
        return _boolean
    return _text


def _text(cell: str) -> str | None:
    return cell if cell != "" else None


def _number(cell: str) -> float | str | None:
    # float() reads integers too, and the check accepts 3.0 in an integer column.
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        return cell


def _boolean(cell: str) -> bool | str | None:
    if cell == "":
        return None
    if cell in _TRUE:
        return True
    return False if cell in _FALSE else cell


@csrf_exempt
def ping(request: HttpRequest) -> HttpResponse:
    """As MLflow's: 200 with a newline while a model is loaded, else 404."""
    served = holder().current
    if request.method not in ("GET", "HEAD"):
        return _error(405, {"error": "method not allowed: use GET"}, served, Allow="GET, HEAD")
    return respond(b"\n", 200 if served is not None else 404, served)


@csrf_exempt
def version(request: HttpRequest) -> HttpResponse:
    """As MLflow's: the version of MLflow whose protocol this server speaks, as bare text."""
    from mlflow.version import VERSION

    served = holder().current
    if request.method not in ("GET", "HEAD"):
        return _error(405, {"error": "method not allowed: use GET"}, served, Allow="GET, HEAD")
    return respond(VERSION.encode(), 200, served)
