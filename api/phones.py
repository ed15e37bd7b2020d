"""Phone numbers in E.164 for the service: the matcher's one rule (``matcher.phones``), so a scenario file and
the API accept and refuse the same numbers."""

from __future__ import annotations

from matcher.phones import to_e164

__all__ = ["to_e164"]
