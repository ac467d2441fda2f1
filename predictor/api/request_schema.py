"""The prediction request's JSON schema, from the served model's input columns.

A row names every column of the model's input schema with its JSON type, null only where the
column is optional; without a served model any object is described. predictor/api/openapi.py puts
the body into the /api/v1/predict path of the schema it serves.
"""

from typing import Any

_ROW = {"type": "object", "additionalProperties": True, "description": "column: value; see GET /api/v1/model"}
_JSON_TYPES = {"double": "number", "float": "number", "long": "integer", "integer": "integer", "boolean": "boolean"}


def value_schema(column: Any) -> dict[str, Any]:
    """One value of a column: its JSON type, null only where the column is optional."""
    kind = _JSON_TYPES.get(column.type, "string")
    return {"type": kind if column.required else [kind, "null"]}


def row_schema(columns: list[Any] | None) -> dict[str, Any]:
    """One row of the served model: every column sent, null only where the column is optional.

    Without a served model the columns are unknown, and any object is described.
    """
    if not columns:
        return _ROW
    return {
        "type": "object",
        "description": "one row: every column of the served model's input schema (GET /api/v1/model)",
        "properties": {column.name: value_schema(column) for column in columns},
        "required": [column.name for column in columns],
        "additionalProperties": False,
    }


def split_schema(columns: list[Any] | None) -> dict[str, Any]:
    """MLflow's dataframe_split. Described with the columns in the model's order, so each row is a
    tuple of typed values; the API also accepts the columns in any other order, and MLflow's
    `index` (one entry per row, ignored), which a schema cannot tie to the number of rows."""
    if columns:
        names = {"const": [column.name for column in columns]}
        row = {
            "type": "array",
            "prefixItems": [value_schema(column) for column in columns],
            "items": False,
            "minItems": len(columns),
        }
    else:
        names = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
        row = {"type": "array", "items": {}}
    return {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": names,
            "data": {"type": "array", "items": row, "minItems": 1},
        },
        "additionalProperties": False,
    }


def predict_body(columns: list[Any] | None) -> dict[str, Any]:
    """The three shapes a prediction request may take; an empty batch is invalid in each.

    More than PREDICT_MAX_ROWS rows is 413 (described there, not as maxItems: a schema-invalid
    request would be 400).
    """
    rows = {"type": "array", "items": row_schema(columns), "minItems": 1}
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["instances"],
                "properties": {"instances": rows},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["dataframe_split"],
                "properties": {"dataframe_split": split_schema(columns)},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["dataframe_records"],
                "properties": {"dataframe_records": rows},
                "additionalProperties": False,
            },
        ]
    }
