"""The few exception types the matcher raises, each with a stable exit code for the CLI."""

from __future__ import annotations


class EvacError(Exception):
    """Base of every error the matcher raises on purpose."""

    exit_code = 1


class InputError(EvacError, ValueError):
    """Bad input: names the offending record and field so a person can fix it.

    ``record`` reads like ``household H0042`` or ``scenario``; ``field`` is the field's name.
    """

    exit_code = 2

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record = record
        self.field = field
        self.message = message
        super().__init__(f"{record}: {field}: {message}")


class MapError(InputError):
    """The road map cannot be read, or a location does not lie on it."""


class SolverError(EvacError):
    """The solver could not produce a plan (a bug or an impossible model, never bad input)."""

    exit_code = 3
