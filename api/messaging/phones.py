"""Phone numbers in E.164 form (``+358401234567``), the one form messages are addressed to and replies matched on."""

from __future__ import annotations

import phonenumbers


def parse(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    """``raw`` parsed, or ``None`` when it is empty or not a possible number (numbers without a country code are
    read as ``region``'s)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def e164(raw: str, region: str) -> str | None:
    """``raw`` as E.164, or ``None`` when it is empty or not a possible number."""
    parsed = parse(raw, region)
    return None if parsed is None else phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def masked(number: str) -> str:
    """A number with all but its last three digits hidden, for logs."""
    return "*" * max(0, len(number) - 3) + number[-3:]
