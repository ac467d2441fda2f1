"""The Open Inference Protocol's paths (predictor/api/v2.py) in the OpenAPI schema, written by hand
as the other serving paths are (predictor/api/openapi.py adds them). The model's name and version
are the served ones, so a generated request names a model this process answers for."""

from __future__ import annotations

from typing import Any

from predictor.api.openapi import answer
from predictor.api.v2_binary import DATATYPES, HEADER_LENGTH
from predictor.serving.holder import ServedModel

_PARAMETERS = {"type": ["object", "null"], "additionalProperties": {"type": ["string", "number", "boolean"]}}
_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string", "enum": sorted(DATATYPES)},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}},
    },
}
_INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {
            **_PARAMETERS,
            "properties": {"binary_data_output": {"type": "boolean"}},
        },
        "inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "datatype", "shape"],
                "properties": {
                    **_TENSOR["properties"],
                    "shape": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0},
                        "minItems": 1,
                        "maxItems": 2,
                    },
                    "data": {"type": "array"},
                    "parameters": {
                        **_PARAMETERS,
                        "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                    },
                },
            },
        },
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "parameters": {**_PARAMETERS, "properties": {"binary_data": {"type": "boolean"}}},
                },
            },
        },
    },
}
_INFER_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs", "parameters"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "parameters": {
            "type": "object",
            "properties": {
                "model_version": {"type": "string"},
                "prediction_ids": {"type": "string", "description": "One id per row, comma-separated, in row order."},
                "warnings": {"type": "string"},
            },
        },
        "outputs": {
            "type": "array",
            "items": {**_TENSOR, "properties": {**_TENSOR["properties"], "data": {"type": "array"}}},
        },
    },
}
_METADATA = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {"type": "array", "items": _TENSOR},
    },
}
_ANY = {"type": "object", "additionalProperties": True}


_REFUSED = {
    "401": answer("API keys are required and the key is missing or wrong."),
    "404": answer("The path names another model, or a version this process does not serve."),
    "429": answer("Rate limit passed: the key's requests or rows per minute."),
    "503": answer("No model deployed yet, or the model failed on this input."),
}


def _get(operation: str, summary: str, ok: dict[str, Any], keyed: bool, parameters: list[Any]) -> dict[str, Any]:
    responses = {"200": ok, **(_REFUSED if keyed else {"503": answer("No model is loaded yet.", _ANY)})}
    return {
        "get": {
            "operationId": operation,
            "tags": ["open inference protocol"],
            "summary": summary,
            "parameters": parameters,
            "responses": responses,
        }
    }


def _infer(operation: str, parameters: list[Any]) -> dict[str, Any]:
    ok = answer(
        "The predictions and one output per class with its probability (`probability_<class>`), or a "
        "regressor's numbers; the prediction ids and the model version in `parameters`. With binary outputs "
        f"asked for, the JSON header ({HEADER_LENGTH} bytes long) followed by the outputs' bytes.",
        _INFER_RESPONSE,
    )
    ok["content"]["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    ok["headers"] = {
        **ok["headers"],
        "X-Prediction-Id": {"description": "The rows' prediction ids, up to 100 rows.", "schema": {"type": "string"}},
    }
    return {
        "post": {
            "operationId": operation,
            "tags": ["open inference protocol"],
            "summary": "Predict with the Open Inference Protocol (V2): one input per column",
            "description": (
                "One input per column of the model's input schema (BYTES, FP64, INT64, BOOL; FP32, INT32 and "
                "the other numeric types are converted where the column is numeric), shape [n] or [n, 1]. "
                "The id and excluded columns of a whole record are accepted and ignored. The binary data "
                f"extension is accepted: the JSON header's length in {HEADER_LENGTH}, then each input's "
                "bytes (`parameters.binary_data_size`)."
            ),
            "parameters": parameters,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _INFER_REQUEST}}},
            "responses": {
                "200": ok,
                "400": answer("A request that does not fit the protocol or the model's input schema, named."),
                "413": answer("More rows than PREDICT_MAX_ROWS, or a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE."),
                **_REFUSED,
            },
        }
    }


def paths(served: ServedModel | None) -> dict[str, Any]:
    """The V2 paths, their `name` and `version` the served model's."""
    name = {"type": "string", **({"enum": [served.name]} if served else {})}
    version = {"type": "string", **({"enum": [served.version]} if served else {})}
    by_name = [{"name": "name", "in": "path", "required": True, "schema": name}]
    by_version = [*by_name, {"name": "version", "in": "path", "required": True, "schema": version}]
    health = {"type": "object", "additionalProperties": True}
    metadata = answer("The model's inputs (one per column) and outputs.", _METADATA)
    ready = answer("The model is ready.", _ANY)
    return {
        "/v2": _get("v2_server", "The server's metadata and protocol extensions", answer("Metadata.", _ANY), False, []),
        "/v2/health/live": _get("v2_live", "Liveness", answer("Up.", health), False, []),
        "/v2/health/ready": _get("v2_ready", "Readiness: a model is served", answer("Ready.", health), False, []),
        "/v2/models/{name}": _get("v2_model", "The model's metadata", metadata, True, by_name),
        "/v2/models/{name}/versions/{version}": _get(
            "v2_model_version", "A version's metadata", metadata, True, by_version
        ),
        "/v2/models/{name}/ready": _get("v2_model_ready", "The model's readiness", ready, True, by_name),
        "/v2/models/{name}/versions/{version}/ready": _get(
            "v2_model_version_ready", "A version's readiness", ready, True, by_version
        ),
        "/v2/models/{name}/infer": _infer("v2_infer", by_name),
        "/v2/models/{name}/versions/{version}/infer": _infer("v2_infer_version", by_version),
    }
