"""The service's own errors, each mapped to one HTTP status by ``api.main`` (bad fields reuse InputError)."""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Base of the errors routes raise on purpose; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NotFound(ServiceError):
    """The object does not exist, or the user may not know it exists (same answer for both, on purpose)."""

    status = 404

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} not found")


class Forbidden(ServiceError):
    """The user may see the object or collection but not do this to it."""

    status = 403


class Unauthorized(ServiceError):
    status = 401


class Conflict(ServiceError):
    """The change clashes with the stored data (someone else's newer version, a duplicate)."""

    status = 409


class Duplicate(Conflict):
    """A registration that repeats a stored one (same phone, or same name at the same place): names both."""

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record = record
        self.field = field
        super().__init__(f"{record}: {field}: {message}")


class StaleVersion(Conflict):
    def __init__(self, entity: str, entity_id: object, given: int | None, current: int | None) -> None:
        now = f"; it is now at version {current}" if current is not None else ""
        super().__init__(
            f"{entity} {entity_id} was changed by someone else since you read it (your version {given}{now}): "
            "reload it and apply your change again"
        )


@dataclass(frozen=True)
class RowError:
    """One bad cell of a CSV import; ``row`` is the spreadsheet row number (the header is row 1)."""

    row: int
    field: str
    message: str


class RowErrors(ServiceError):
    """A CSV import with bad rows: every one is reported and nothing is imported."""

    status = 422

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported")
