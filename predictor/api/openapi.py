"""The serving endpoints in the OpenAPI schema, written by hand.

They are plain Django views (see predictor/api/views.py), which drf-spectacular cannot see; this
postprocessing hook adds them to the generated schema so /api/schema/ and /api/docs/ describe
the whole API.
"""

import copy
from typing import Any

from predictor.api.request_schema import predict_body

VERSION_HEADER = {
    "X-Model-Version": {
        "description": "The model version this process serves (empty when none).",
        "schema": {"type": "string"},
    }
}
# Each bad row and field of a refused prediction request.
ROW_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "row": {"type": ["integer", "null"]},
            "field": {"type": ["string", "null"]},
            "message": {"type": "string"},
        },
    },
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "errors": ROW_ERRORS}}


_SERVED_MODEL = {
    "type": "object",
    "required": ["name", "version", "run_id", "serving", "inference", "input_schema"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "run_id": {"type": "string"},
        "since": {"type": ["string", "null"], "format": "date-time"},
        "source": {"type": ["string", "null"]},
        "metrics": {"type": "object"},
        "data_version": {"type": "object"},
        "task": {"type": "string", "enum": ["classification", "regression"]},
        "classes": {"type": ["array", "null"], "items": {}},
        "serving": {
            "type": "string",
            "enum": ["compiled", "model"],
            "description": (
                "compiled: a pipeline of a shape the product knows, served from its arrays (checked at load to give "
                "exactly the model's own probabilities, or a regressor's predictions); model: any other model, "
                "through its own predict_proba or predict."
            ),
        },
        "inference": {"type": "string", "description": "How the model is served, and why not compiled when it is not."},
        "input_schema": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": True,
}


_ANSWERED = {
    "model": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "run_id": {"type": "string"}},
    },
    "warnings": {"type": "array", "items": {"type": "string"}},
    "prediction_ids": {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "description": "One id per row, in row order: send it back with the true label to POST /api/v1/feedback.",
    },
}
# Two answer shapes, as the served model's task says (GET /api/v1/model's `task`).
_PREDICTION = {
    "anyOf": [
        {
            "title": "classification",
            "type": "object",
            "required": ["predictions", "prediction_ids", "model"],
            "properties": {
                "predictions": {
                    "type": "array",
                    "items": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
                    "description": "The most probable class of each row.",
                },
                "classes": {"type": "array", "items": {}},
                "probabilities": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                    "description": "Per row, each class's probability, in the order of `classes`.",
                },
                **_ANSWERED,
            },
        },
        {
            "title": "regression",
            "type": "object",
            "required": ["predictions", "prediction_ids", "model"],
            "properties": {
                "predictions": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": "The predicted number of each row; a regression has no classes or probabilities.",
                },
                **_ANSWERED,
            },
            "not": {"anyOf": [{"required": ["classes"]}, {"required": ["probabilities"]}]},
        },
    ]
}


def answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A documented response: JSON (an error unless `schema` says otherwise), with X-Model-Version."""
    return {
        "description": description,
        "headers": VERSION_HEADER,
        "content": {"application/json": {"schema": schema or _ERROR}},
    }


_PREDICTION_ID_HEADER = {
    "X-Prediction-Id": {
        "description": (
            "The prediction ids of the rows, comma-separated in row order (one id for a one-row request). "
            "Left out for more than 100 rows, where proxies could refuse so long a header: the body's "
            "`prediction_ids` always has them."
        ),
        "schema": {"type": "string"},
    }
}
_FEEDBACK_ITEM = {
    "type": "object",
    "required": ["prediction_id", "label"],
    "properties": {
        "prediction_id": {"type": "string", "format": "uuid"},
        "label": {"oneOf": [{"type": "string"}, {"type": "number"}], "description": "the true class"},
    },
    "additionalProperties": False,
}
_FEEDBACK_BODY = {
    "oneOf": [
        _FEEDBACK_ITEM,
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {"feedback": {"type": "array", "items": _FEEDBACK_ITEM, "minItems": 1, "maxItems": 10000}},
            "additionalProperties": False,
        },
    ]
}
_FEEDBACK_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "item": {"type": "integer", "description": "position of the item in the batch (0 for one item)"},
                    "field": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

_KEYED = {
    "401": answer("API keys are required and the key is missing or wrong."),
    "429": answer("Rate limit passed: the key's requests or rows per minute."),
}

PATHS: dict[str, Any] = {
    "/api/v1/predict": {
        "post": {
            "operationId": "predict",
            "tags": ["serving"],
            "summary": "Predict with the champion model",
            "description": (
                "Rows in any of three shapes: `instances`, MLflow's `dataframe_split` or `dataframe_records`. "
                "Every column of the model's input schema must be sent (null only where the column is optional); "
                "a field the schema does not know is rejected in all three shapes. A category the model never saw "
                "is accepted and reported under `warnings`."
            ),
            "requestBody": {"required": True, "content": {"application/json": {"schema": predict_body(None)}}},
            "responses": {
                "200": {
                    **answer(
                        "Predictions (classes with their probabilities, or a regression's numbers), their ids and "
                        "the model that made them.",
                        _PREDICTION,
                    ),
                    "headers": {**VERSION_HEADER, **_PREDICTION_ID_HEADER},
                },
                "400": answer("Malformed JSON or rows that do not match the input schema (each bad row and field)."),
                "413": answer("More rows than PREDICT_MAX_ROWS, or a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE."),
                "415": answer("The body is not JSON."),
                "503": answer("No model deployed yet, or the model failed on this input."),
                **_KEYED,
            },
        }
    },
    "/api/v1/feedback": {
        "post": {
            "operationId": "feedback",
            "tags": ["serving"],
            "summary": "Send the true label of logged predictions (ground truth)",
            "description": (
                'One `{prediction_id, label}` or `{"feedback": [...]}` with up to 10,000 items. All or nothing: '
                "one bad item rejects the request, every bad item is named (its position, field and why) and "
                "nothing is recorded. Sending a label again for the same prediction replaces it; every label given "
                "is kept with who gave it. The label must be a class of the model version that made the prediction. "
                "With API keys, a key labels only the predictions it made (403 otherwise); FEEDBACK_REQUIRES_KEY "
                "asks for a key even when predictions need none. A label for a prediction not written to the log "
                "yet (a recent id) is accepted with 202 and held: it is checked and applied when the row is written, "
                "and dropped (counted in GET /api/v1/monitoring) if the row has not come within "
                "FEEDBACK_HOLD_SECONDS or the label does not fit the prediction then. A prediction left out of the "
                "log by PREDICTION_LOG_SAMPLE or pruned after PREDICTION_LOG_DAYS cannot take feedback (the error "
                "says so)."
            ),
            "requestBody": {"required": True, "content": {"application/json": {"schema": _FEEDBACK_BODY}}},
            "responses": {
                "200": answer(
                    "Recorded: how many predictions got their label.",
                    {"type": "object", "properties": {"recorded": {"type": "integer"}}},
                ),
                "202": answer(
                    "Accepted: `recorded` labels stored, and `held` labels waiting for their predictions to be "
                    "written to the log (applied when they are, within FEEDBACK_HOLD_SECONDS).",
                    {
                        "type": "object",
                        "required": ["recorded", "held"],
                        "properties": {"recorded": {"type": "integer"}, "held": {"type": "integer"}},
                    },
                ),
                "400": answer("Malformed JSON, or items that are not valid (each one named).", _FEEDBACK_ERROR),
                "403": answer(
                    "Every refused item names a prediction made with another API key: a key labels only its own.",
                    _FEEDBACK_ERROR,
                ),
                "413": answer("More than 10,000 items."),
                "415": answer("The body is not JSON."),
                **_KEYED,
            },
        }
    },
    "/api/v1/model": {
        "get": {
            "operationId": "served_model",
            "tags": ["serving"],
            "summary": "The served model: version, metrics, data version and input schema",
            "responses": {
                "200": answer("The served model.", _SERVED_MODEL),
                "503": answer("No model deployed yet."),
                **_KEYED,
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "tags": ["health"],
            "summary": "Liveness: the process is up",
            "responses": {"200": answer("Up.", {"type": "object", "properties": {"status": {"type": "string"}}})},
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "tags": ["health"],
            "summary": "Readiness: a model is loaded, and the active version did not fail to load",
            "responses": {
                "200": answer(
                    "Ready, with the served version, and where API-key rate limits are counted (rate_limits: off, "
                    "database, redis, or per-process while Redis is unreachable, with rate_limits_error saying why).",
                    {"type": "object", "additionalProperties": True},
                ),
                "503": answer("No model loaded yet, or the active version failed to load (the error says why)."),
            },
        }
    },
}


def add_serving_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Adds the serving paths, with the rows of the model this process serves now."""
    # Here, not at the top: the protocols' modules build their answers with this module's.
    from predictor.api import mlflow_openapi, openapi_v2
    from predictor.serving.holder import holder

    served = holder().current
    paths = copy.deepcopy(PATHS)
    body = paths["/api/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = predict_body(served.schema if served else None)
    result.setdefault("paths", {}).update(paths)
    result["paths"].update(mlflow_openapi.paths(served.schema if served else None))
    result["paths"].update(openapi_v2.paths(served))
    return result
