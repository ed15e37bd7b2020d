"""Message templates: English texts whose translations are gettext catalogues (``locale/<lang>/LC_MESSAGES``).

Bodies carry the minimum a person needs (a first name, a time, a place, a link), never medical needs. The
recipient's language picks the catalogue; a language without one falls back to English. The ``.po`` files are
the source; the compiled ``.mo`` files are committed beside them (``python -m api.messaging.texts`` recompiles
them, and a test checks they match), so an install from a clean clone has them.
"""

from __future__ import annotations

import enum
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
#: Languages with a catalogue (English is the source text itself).
LANGUAGES = ("en", "fi", "es")


def N_(text: str) -> str:
    return text


class Template(enum.StrEnum):
    """What a message says; the value is also stored on the outbox row."""

    DRIVER_PLAN = "driver_plan"
    DRIVER_CHANGED = "driver_changed"
    HOUSEHOLD_ASSIGNED = "household_assigned"
    HOUSEHOLD_CHANGED = "household_changed"
    HOUSEHOLD_UNSERVED = "household_unserved"
    REMINDER = "reminder"
    ON_THE_WAY = "on_the_way"
    AT_SHELTER = "at_shelter"
    HELP_TEXT = "help_text"
    WITHDRAWN = "withdrawn"
    COORDINATOR_HELP = "coordinator_help"
    COORDINATOR_UNCONFIRMED = "coordinator_unconfirmed"
    COORDINATOR_NO_ACK = "coordinator_no_ack"
    CHECKIN_HOUSEHOLD = "checkin_household"
    CHECKIN_VOLUNTEER = "checkin_volunteer"
    CHECKIN_HELP = "checkin_help"
    COORDINATOR_UNCONFIRMED_TEXT = "coordinator_unconfirmed_text"
    COORDINATOR_UNREACHABLE = "coordinator_unreachable"


class Part(enum.StrEnum):
    """A sentence added to a message for a household's communication needs (``api.messaging.reach``); it says
    what to do, never which need."""

    ASSIGNED_PLAIN = "assigned_plain"
    CHANGED_PLAIN = "changed_plain"
    REPLY_OPTIONS = "reply_options"
    ARRIVAL_KNOCK_AND_SHOW = "arrival_knock_and_show"
    ARRIVAL_SAY_NAME = "arrival_say_name"
    ARRIVAL_DOOR_KNOCK = "arrival_door_knock"
    DOOR_KNOCK_AND_SHOW = "door_knock_and_show"
    DOOR_SAY_NAME = "door_say_name"
    DOOR_KNOCK = "door_knock"
    DOOR_LATER = "door_later"
    DOOR_CARD = "door_card"


TEXTS: dict[Template, str] = {
    Template.DRIVER_PLAN: N_("Evacuation: you have %(pickups)s pickups. First at %(time)s: %(place)s. "
                            "Your manifest: %(link)s"),
    Template.DRIVER_CHANGED: N_("Your route changed: %(pickups)s pickups. First at %(time)s: %(place)s. "
                               "Your manifest: %(link)s"),
    Template.HOUSEHOLD_ASSIGNED: N_("Evacuation: %(driver)s will pick you up between %(start)s and %(end)s "
                                   "(%(car)s). Reply 1 to confirm, 2 if you no longer need a ride, "
                                   "3 if you need help."),
    Template.HOUSEHOLD_CHANGED: N_("Change: %(driver)s will now pick you up between %(start)s and %(end)s "
                                  "(%(car)s). Reply 1 to confirm, 2 if you no longer need a ride, "
                                  "3 if you need help."),
    Template.HOUSEHOLD_UNSERVED: N_("Evacuation: we have your request and are arranging help. We will contact "
                                   "you again. Reply 3 if you need help now."),
    Template.REMINDER: N_("Reminder: %(driver)s arrives between %(start)s and %(end)s."),
    Template.ON_THE_WAY: N_("%(driver)s is on the way to you now."),
    Template.AT_SHELTER: N_("You have arrived at %(shelter)s. Stay safe."),
    Template.HELP_TEXT: N_("Reply 1 to confirm your ride, 2 if you no longer need it, 3 if you need help. "
                          "STOP ends these messages."),
    Template.WITHDRAWN: N_("Your ride is cancelled. Reply 3 if you need help."),
    Template.COORDINATOR_HELP: N_("Household %(household)s asked for help in alert %(alert)s. See the dashboard."),
    Template.COORDINATOR_UNCONFIRMED: N_("Household %(household)s has not confirmed its ride in alert %(alert)s "
                                        "after %(minutes)s minutes. Please call them."),
    Template.COORDINATOR_NO_ACK: N_("Driver of car %(car)s has not acknowledged the plan in alert %(alert)s after "
                                   "%(minutes)s minutes. Please call them."),
    Template.CHECKIN_HOUSEHOLD: N_("Monthly check-in: are your address, people and needs as registered? "
                                  "Reply 1 if yes, 2 if something changed."),
    Template.CHECKIN_VOLUNTEER: N_("Monthly check-in: can you still drive, with %(seats)s seats and %(wheelchair)s "
                                  "wheelchair spaces? Reply 1 if yes, 2 if something changed."),
    Template.CHECKIN_HELP: N_("Reply 1 if your registration is still right, 2 if something changed."),
    Template.COORDINATOR_UNCONFIRMED_TEXT: N_("Household %(household)s has not confirmed its ride in alert "
                                             "%(alert)s after %(minutes)s minutes. Do not phone them: text them or "
                                             "send someone to the door."),
    Template.COORDINATOR_UNREACHABLE: N_("Household %(household)s in alert %(alert)s cannot be texted at its "
                                        "number and must not be phoned: send someone to the door or ask its "
                                        "registrar."),
}

PARTS: dict[Part, str] = {
    # A household whose messages may not rely on the car being seen, or on a call: the car is left out of the
    # first sentence and how the driver makes themselves known follows it.
    Part.ASSIGNED_PLAIN: N_("Evacuation: %(driver)s will pick you up between %(start)s and %(end)s."),
    Part.CHANGED_PLAIN: N_("Change: %(driver)s will now pick you up between %(start)s and %(end)s."),
    Part.REPLY_OPTIONS: N_("Reply 1 to confirm, 2 if you no longer need a ride, 3 if you need help."),
    Part.ARRIVAL_KNOCK_AND_SHOW: N_("Look for %(car)s. The driver will knock and show you a written message; "
                                    "nobody will phone or ring."),
    Part.ARRIVAL_SAY_NAME: N_("The driver will come to your door and say their name."),
    Part.ARRIVAL_DOOR_KNOCK: N_("The driver will come to your door and knock."),
    Part.DOOR_KNOCK_AND_SHOW: N_("At this stop knock and show a written message; do not rely on the doorbell or a "
                                 "call."),
    Part.DOOR_SAY_NAME: N_("At this stop go to the door and say your name; do not expect them to spot the car."),
    Part.DOOR_KNOCK: N_("At this stop go to the door and knock; do not rely on a call, the doorbell or the car being "
                        "seen."),
    # Shown on the driver's phone at the door of a household that may not rely on voice, in its language.
    Part.DOOR_CARD: N_("I am %(driver)s, your evacuation driver. Please come with me to the car."),
    Part.DOOR_LATER: N_("Some stops have instructions for the door: read them in the manifest."),
}


def language_of(preference: str | list[str] | None) -> str:
    """The catalogue for a recipient's language(s) (``fi``, ``fi-FI``, ``["es", "en"]``): the first one we have,
    else English."""
    wanted = preference if isinstance(preference, list) else [preference or ""]
    for item in wanted:
        for part in str(item).replace(";", ",").split(","):
            code = part.strip().lower().replace("_", "-").split("-")[0]
            if code in LANGUAGES:
                return code
    return "en"


@cache
def catalogue(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain=DOMAIN)


def render(template: Template, language: str, **values: object) -> str:
    """The message text in ``language`` (a code from ``language_of``)."""
    text = catalogue(language).gettext(TEXTS[template])
    return text % values if values else text


def render_part(part: Part, language: str, **values: object) -> str:
    """One sentence of ``PARTS`` in ``language``."""
    text = catalogue(language).gettext(PARTS[part])
    return text % values if values else text


def compile_catalogues() -> list[Path]:
    """Write each ``.po`` file's ``.mo`` beside it; the paths written."""
    written = []
    for po_path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as source:
            catalog = read_po(source)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as out:
            write_mo(out, catalog)
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_catalogues():
        print(path)  # noqa: T201 - a developer's command
