"""How each person is reached and how their messages are worded: the one place that reads communication needs.

A household that registered ``hearing`` (deaf or hard of hearing) is never reached through anything that relies on
hearing: no message to a landline (carriers read texts to a fixed line aloud, as a voice call), no "please call
them" to coordinators, no doorbell or phone call at the door; its driver is told to knock and show a written
message. A household that registered ``vision`` (blind or low vision) gets nothing that relies on sight: no car to
look out for, no link or map; its driver is told to come to the door and say their name. SMS stays the channel for
both: it is read aloud by a phone's screen reader, and a text is the one channel a deaf person reads anywhere. Users
(drivers, registrars, coordinators) are texted when they gave a phone number and e-mailed only otherwise: a text is
shorter to listen to with a screen reader than an e-mail with headers and quoted text, and reaches a phone in the
field.

Bodies never name a need (docs/messages.md, "Hearing and vision"): they say what to do ("knock and show"), not why.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from api import models
from api.config import Settings
from api.messaging import phones
from api.messaging.texts import Part, Template, language_of, render, render_part
from matcher.needs import Need, known


class Contact(enum.StrEnum):
    """How a driver or coordinator gets hold of a household in a hurry."""

    CALL = "call"
    TEXT = "text"


@dataclass(frozen=True)
class Senses:
    """What a household's messages and its driver may not rely on."""

    #: Deaf or hard of hearing: no call, no doorbell, no voice.
    no_voice: bool = False
    #: Blind or low vision: no car description, no link, no map.
    no_visual: bool = False

    @classmethod
    def of(cls, needs: Iterable[str]) -> Senses:
        found = known(needs)
        return cls(no_voice=Need.HEARING in found, no_visual=Need.VISION in found)

    @property
    def standard(self) -> bool:
        return not (self.no_voice or self.no_visual)

    @property
    def contact(self) -> Contact:
        return Contact.TEXT if self.no_voice else Contact.CALL

    def arrival_part(self) -> Part | None:
        """The household's sentence saying how the driver will make themselves known (``None``: the standard
        message, which names the car)."""
        if self.no_voice and self.no_visual:
            return Part.ARRIVAL_DOOR_KNOCK
        if self.no_voice:
            return Part.ARRIVAL_KNOCK_AND_SHOW
        if self.no_visual:
            return Part.ARRIVAL_SAY_NAME
        return None

    def door_part(self) -> Part | None:
        """The driver's instruction for this household's door (``None``: nothing special)."""
        if self.no_voice and self.no_visual:
            return Part.DOOR_KNOCK
        if self.no_voice:
            return Part.DOOR_KNOCK_AND_SHOW
        if self.no_visual:
            return Part.DOOR_SAY_NAME
        return None


@dataclass(frozen=True)
class Address:
    """Where one person's message goes, in which language and wording."""

    recipient: str
    channel: str
    to: str
    language: str
    senses: Senses = Senses()


@dataclass(frozen=True)
class HouseholdReach:
    """A household's address, or why it gets no message (for coordinators)."""

    address: Address | None
    senses: Senses
    #: Why a number we hold is not texted (``None`` when it is, or when there is no number).
    refused: str | None = None


LANDLINE_FOR_NO_VOICE = ("not texted: the number is a landline, where a text arrives as a voice call; reach the "
                         "household at the door or through its registrar")


@functools.lru_cache(maxsize=65536)
def _number(raw: str, region: str) -> tuple[str | None, bool]:
    """``(E.164 or None, is a landline)`` from one parse: parsing is the costly part of addressing a plan's
    messages, and the same numbers come back with every plan version."""
    parsed = phones.parse(raw, region)
    if parsed is None:
        return None, False
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE


def is_landline(number: str) -> bool:
    """Only numbers ``phonenumbers`` knows to be fixed lines (``FIXED_LINE_OR_MOBILE`` numbers, as in the US, may
    take texts)."""
    return _number(number, "ZZ")[1]


def household(row: models.Household, settings: Settings) -> HouseholdReach:
    """How ``row`` is reached: by SMS to its number, unless it has none, or it must not rely on voice and the
    number is a landline."""
    senses = Senses.of(row.needs or [])
    phone, landline = _number(row.phone or "", settings.phone_region)
    language = language_of(getattr(row, "languages", None) or row.language)
    if phone is None:
        return HouseholdReach(None, senses)
    if senses.no_voice and landline:
        return HouseholdReach(None, senses, LANDLINE_FOR_NO_VOICE)
    return HouseholdReach(Address(f"household:{row.id}", "sms", phone, language, senses), senses)


def user(row: models.User, settings: Settings) -> Address:
    """Users are texted when they gave a phone number, else e-mailed (every account has an address)."""
    phone, _landline = _number(row.phone or "", settings.phone_region)
    language = language_of(row.language)
    if phone is not None:
        return Address(f"user:{row.id}", "sms", phone, language)
    return Address(f"user:{row.id}", "email", row.email, language)


def with_arrival(body: str, senses: Senses, language: str, **values: object) -> str:
    """``body`` followed by how the driver will make themselves known, for a household that needs it."""
    part = senses.arrival_part()
    return body if part is None else f"{body} {render_part(part, language, **values)}"


def door_words(senses: Senses, language: str) -> str:
    """The driver's instruction for a household's door, as a sentence (empty when there is none)."""
    part = senses.door_part()
    return "" if part is None else render_part(part, language)


def household_pickup(template: Template, address: Address, **values: object) -> str:
    """A household's "who picks you up and when" (``HOUSEHOLD_ASSIGNED`` or ``HOUSEHOLD_CHANGED``; values
    ``driver``, ``car``, ``start``, ``end``): the standard text names the car; a household that may not rely on
    sight or on a call is told instead how the driver will make themselves known."""
    if address.senses.standard:
        return render(template, address.language, **values)
    head = Part.ASSIGNED_PLAIN if template == Template.HOUSEHOLD_ASSIGNED else Part.CHANGED_PLAIN
    body = with_arrival(render_part(head, address.language, **values), address.senses, address.language, **values)
    return f"{body} {render_part(Part.REPLY_OPTIONS, address.language)}"
