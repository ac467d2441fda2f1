"""What the traffic's parts share: its errors, and what the app says of the model it serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


class TrafficError(Exception):
    """The traffic cannot start or go on: the message says why and what to do."""


class KeyRequired(TrafficError):
    """The app answered 401: it requires an API key, or refused the one given."""


@dataclass(frozen=True)
class ServedModel:
    """What GET /api/v1/model says about the served model."""

    name: str
    version: str
    columns: list[str]
    required: list[str]
    classes: list[str] | None
    max_rows: int
    # Rows of the dataset version it was trained on (its deployment's data_version), when known.
    data_rows: int | None = None

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> ServedModel:
        schema = body.get("input_schema") or {}
        columns = schema.get("columns") or []
        classes = body.get("classes")
        rows = ((body.get("data_version") or {}).get("rows") or {}).get("total")
        return cls(
            name=str(body.get("name", "?")),
            version=str(body.get("version", "?")),
            columns=[str(c["name"]) for c in columns],
            required=[str(c["name"]) for c in columns if c.get("required")],
            classes=[str(c) for c in classes] if classes is not None else None,
            max_rows=int(schema.get("max_rows") or settings.PREDICT_MAX_ROWS),
            data_rows=int(rows) if isinstance(rows, int | float) else None,
        )
