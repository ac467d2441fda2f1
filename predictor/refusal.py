"""What every API of the predictor raises for a request it cannot serve: a message, each bad item named in
`errors`, and the HTTP status; `as_dict` is the JSON error body the views send."""

from __future__ import annotations

from typing import Any


class BadRequest(Exception):
    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body
