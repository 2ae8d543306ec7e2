"""The one error type of the gateway: an HTTP status, a stable code, a message, the field.

Handlers raise it; the app turns it into a JSON body (``{"error": {...}}``) and counts it in
``ingest_rejections_total{route,reason}``. Batch items carry the same fields per item.
"""

from __future__ import annotations

from typing import Any


class Rejection(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a sandboxed child and re-raised in the gateway: it must survive pickling
        return (_rebuild, (self.status, self.code, self.message, self.field))

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


def _rebuild(status: int, code: str, message: str, field: str | None) -> Rejection:
    return Rejection(status, code, message, field=field)
