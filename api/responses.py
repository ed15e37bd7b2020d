"""The error answers each route documents in the OpenAPI schema (``responses=errors(401, 404)``).

Every error but a 422 has the body ``{"detail": "<message>"}``; FastAPI documents the 422 itself (``{"detail":
[{"loc": [...], "msg": ..., "type": ...}]}``) for every route that takes input. The schemathesis test
(``tests/api/test_schemathesis.py``) fails on any status code a route answers without documenting it here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorMessage(BaseModel):
    detail: str


WHY = {
    400: "The body could not be read at all (not UTF-8 JSON, or broken multipart form data)",
    401: "Not signed in: the token is missing, invalid or expired, or the account is deactivated",
    403: "Your role may not do this (you may know the object exists)",
    404: "No such object, or one you may not know about",
    409: "Someone else changed the record since you read it (reload it and apply your change again), "
         "or the change clashes with stored data (a duplicate)",
    413: "The request body (or uploaded file) is larger than the service accepts",
    429: "Too many requests from your account or address, or on this alert: wait for the Retry-After seconds",
    503: "The database is unreachable for now: try again shortly",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer with these error codes."""
    return {code: {"model": ErrorMessage, "description": WHY[code]} for code in codes}
