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
