"""MLflow's scoring protocol (predictor/api/mlflow_protocol.py) in the OpenAPI schema, added beside
the serving paths by predictor/api/openapi.py (sharing its headers and error rows), with the rows
of the model served now."""

from typing import Any

from predictor.api.openapi import ROW_ERRORS, VERSION_HEADER
from predictor.api.request_schema import predict_body, row_schema

_IDS_HEADER = {
    "X-Prediction-Id": {
        "description": (
            "The prediction ids of the rows, comma-separated in row order: MLflow's body has no place for them. "
            "Left out for more than 100 rows (proxies could refuse so long a header); the predictions are logged "
            "with their ids all the same. A client that needs the ids of a larger batch sends it in requests of "
            "at most 100 rows, or uses POST /api/v1/predict, whose body lists every id."
        ),
        "schema": {"type": "string"},
    }
}
# MLflow's error shape, with the bad rows named as on /api/v1/predict.
_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {
        "error_code": {"type": "string", "description": "MLflow's error code, e.g. BAD_REQUEST"},
        "message": {"type": "string"},
        "errors": ROW_ERRORS,
    },
}
_PARAMS = {"type": ["object", "null"], "description": "Accepted as MLflow accepts it; the served models take none."}


def _answer(description: str, schema: dict[str, Any] | None = None, **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**VERSION_HEADER, **headers},
        "content": {"application/json": {"schema": schema or _ERROR}},
    }


def invocations_body(columns: list[Any] | None) -> dict[str, Any]:
    """predict's three shapes and MLflow's `inputs` (rows, or columns of values), each with `params`."""
    shapes = predict_body(columns)["oneOf"]
    rows = {"type": "array", "items": row_schema(columns), "minItems": 1}
    if columns:
        by_column = {
            "type": "object",
            "properties": {c.name: {"type": "array", "minItems": 1} for c in columns},
            "required": [c.name for c in columns],
            "additionalProperties": False,
        }
    else:
        by_column = {"type": "object", "additionalProperties": {"type": "array"}}
    shapes.append({"type": "object", "required": ["inputs"], "properties": {"inputs": {"oneOf": [rows, by_column]}}})
    for shape in shapes:
        shape["properties"]["params"] = _PARAMS
        shape["additionalProperties"] = False
    return {"oneOf": shapes}


def paths(columns: list[Any] | None) -> dict[str, Any]:
    # No `content`: MLflow's server sends these bodies as application/json though they are not JSON
    # (a newline, a bare version), and its clients read them as text; described, not typed.
    health = {
        "200": {"description": "A model is loaded: the body is a newline, as MLflow's.", "headers": VERSION_HEADER},
        "404": {"description": "No model is loaded yet: the body is a newline.", "headers": VERSION_HEADER},
    }
    return {
        "/invocations": {
            "post": {
                "operationId": "mlflow_invocations",
                "tags": ["mlflow"],
                "summary": "MLflow's scoring protocol: predict with the champion model",
                "description": (
                    "What `mlflow models serve` answers, on the same model and checks as POST /api/v1/predict. "
                    "JSON in MLflow's forms (`dataframe_split`, `dataframe_records`, `instances`, `inputs` as rows "
                    "or as columns, with optional `params`), or CSV with a header row. Gaps are null, NaN (as "
                    "MLflow's clients write them) or an empty CSV cell. The id and excluded columns of a whole "
                    "record are accepted and ignored. Errors are MLflow's `{error_code, message}`, with `errors` "
                    "naming each bad row and field."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": invocations_body(columns)},
                        "text/csv": {"schema": {"type": "string", "description": "CSV with a header row"}},
                    },
                },
                "responses": {
                    "200": _answer(
                        "The prediction of each row, as MLflow's server gives it.",
                        {
                            "type": "object",
                            "required": ["predictions"],
                            "properties": {"predictions": {"type": "array"}},
                        },
                        **_IDS_HEADER,
                    ),
                    "400": _answer("A body that cannot be read, or rows that do not match the input schema."),
                    "401": _answer("API keys are required and the key is missing or wrong."),
                    "413": _answer(
                        "More rows than PREDICT_MAX_ROWS, or a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE."
                    ),
                    "415": _answer("Neither JSON nor CSV, or a charset other than UTF-8."),
                    "429": _answer("Rate limit passed: the key's requests or rows per minute."),
                    "503": _answer("No model deployed yet, or the model failed on this input."),
                },
            }
        },
        "/ping": {
            "get": {
                "operationId": "mlflow_ping",
                "tags": ["mlflow"],
                "summary": "MLflow's health check",
                "responses": health,
            }
        },
        "/health": {
            "get": {
                "operationId": "mlflow_health",
                "tags": ["mlflow"],
                "summary": "The same as /ping",
                "responses": health,
            }
        },
        "/version": {
            "get": {
                "operationId": "mlflow_version",
                "tags": ["mlflow"],
                "summary": "The MLflow version whose protocol is served, as bare text",
                "responses": {"200": {"description": "The bare version text, e.g. 3.17.2.", "headers": VERSION_HEADER}},
            }
        },
    }
