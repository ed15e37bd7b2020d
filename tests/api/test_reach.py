"""Hearing and vision pick the channel and the wording (``api.messaging.reach``): the rule itself as a table, the
texts in every language, and end to end: a plan tells each household in the words it can use, its driver what to
do at the door, coordinators how (not) to contact it, and the driver's manifest shows it; bodies never name a need.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api import models
from api.config import Settings
from api.main import create_app
from api.messaging import reach
from api.messaging.localsms import LocalSMS
from api.messaging.sender import Sender
from api.messaging.texts import LANGUAGES, PARTS, TEXTS, Part, Template, render, render_part
from tests.api.factories import (
    csv_text,
    household_body,
    kotka,
    login,
    make_user,
    services,
    shelter_body,
    upload,
    vehicle_body,
    wait_job,
)
from tests.api.messaging_helpers import SMTPServer, messaging_settings

MOBILE, LANDLINE = "+358401234567", "+35891234567"
#: Words that would tell a reader of a message what a household lives with: never in a body, in any language.
NEED_WORDS = ("hearing", "deaf", "vision", "blind", "sight", "oxygen", "kuuro", "sokea", "sordo", "ciego")


def _household(needs: list[str], phone: str) -> models.Household:
    return models.Household(id=7, registrar_id=1, name="Virtanen", phone=phone, lat=60.5, lon=26.9, people=1,
                            needs=needs, language="en")


@pytest.mark.parametrize(("needs", "phone", "texted", "no_voice", "no_visual", "contact"), [
    ([], MOBILE, True, False, False, "call"),                    # nothing special: texted, may be called
    ([], LANDLINE, True, False, False, "call"),                  # a landline may read a text aloud: fine here
    (["hearing"], MOBILE, True, True, False, "text"),            # texted, never called
    (["hearing"], LANDLINE, False, True, False, "text"),         # a text to a landline arrives as a voice call
    (["vision"], LANDLINE, True, False, True, "call"),           # read aloud is what they need
    (["hearing", "vision"], MOBILE, True, True, True, "text"),   # deafblind: knock at the door
    (["oxygen", "free text"], MOBILE, True, False, False, "call"),  # other needs do not change the channel
])
def test_rule_picks_channel_and_wording(needs: list[str], phone: str, texted: bool, no_voice: bool,
                                        no_visual: bool, contact: str) -> None:
    found = reach.household(_household(needs, phone), Settings())
    assert (found.address is not None) == texted
    assert found.senses == reach.Senses(no_voice=no_voice, no_visual=no_visual)
    assert found.senses.contact.value == contact
    if not texted:
        assert found.refused is not None and "landline" in found.refused
    else:
        assert found.address is not None and found.address.channel == "sms" and found.address.to == phone


def test_users_are_texted_before_they_are_emailed() -> None:
    """A text is short to listen to with a screen reader and reaches a phone in the field: e-mail only without a
    phone number."""
    with_phone = models.User(id=3, email="a@example.org", phone="040 123 4567", language="fi")
    without = models.User(id=4, email="b@example.org", phone="", language="")
    assert reach.user(with_phone, Settings()).channel == "sms"
    assert reach.user(without, Settings()) == reach.Address("user:4", "email", "b@example.org", "en")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("senses", "has_car", "must_say"), [
    (reach.Senses(), True, None),
    (reach.Senses(no_voice=True), True, Part.ARRIVAL_KNOCK_AND_SHOW),
    (reach.Senses(no_visual=True), False, Part.ARRIVAL_SAY_NAME),
    (reach.Senses(no_voice=True, no_visual=True), False, Part.ARRIVAL_DOOR_KNOCK),
])
def test_household_wording(language: str, senses: reach.Senses, has_car: bool, must_say: Part | None) -> None:
    """The car ("blue Golf") is named only to households that can see it; how the driver makes themselves known is
    said to those who cannot rely on seeing it or on a call; reply options always; no need is ever named."""
    address = reach.Address("household:1", "sms", MOBILE, language, senses)
    values = {"driver": "Anna", "car": "blue Golf", "start": "10:00", "end": "10:15"}
    for template in (Template.HOUSEHOLD_ASSIGNED, Template.HOUSEHOLD_CHANGED):
        body = reach.household_pickup(template, address, **values)
        assert ("blue Golf" in body) == has_car, body
        assert "Anna" in body and "10:00" in body and "10:15" in body
        assert render_part(Part.REPLY_OPTIONS, language) in body or senses.standard
        if must_say is not None:
            assert render_part(must_say, language, car="blue Golf") in body
        assert not any(word in body.lower() for word in NEED_WORDS), body


def test_no_template_or_part_names_a_need() -> None:
    values = {k: "X" for k in ("pickups", "time", "place", "link", "driver", "start", "end", "car", "shelter",
                               "household", "alert", "seats", "wheelchair", "minutes")}
    for language in LANGUAGES:
        bodies = [render(t, language, **values) for t in TEXTS] + [render_part(p, language, **values) for p in PARTS]
        for body in bodies:
            assert not any(word in body.lower() for word in NEED_WORDS), (language, body)


# --- end to end -------------------------------------------------------------------------------------------------

#: Household index -> (needs, phone); the others have none and their own mobile numbers.
SPECIAL: dict[int, tuple[list[str], str]] = {
    0: (["hearing"], "+358401110000"),
    1: (["vision"], "+358401110001"),
    2: (["hearing", "vision"], "+358401110002"),
    3: (["hearing"], "+35891110003"),  # a landline
}
HOUSEHOLDS = 10


@dataclass
class World:
    app: Any
    client: TestClient
    sms: LocalSMS
    smtp: SMTPServer
    alert_id: int


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with LocalSMS() as sms, SMTPServer() as smtp:
        app = create_app(messaging_settings(settings, sms, smtp, reminder_minutes=0))
        with TestClient(app) as client:
            make_user(app, "coord@example.org", "coordinator")
            coordinator = login(client, "coord@example.org")
            make_user(app, "anna@example.org")
            data = kotka()
            assert upload(client, "/shelters/import", coordinator,
                          csv_text([shelter_body(i) for i in range(len(data["shelters"]))])).status_code == 200
            cars = [{"owner_email": "anna@example.org", "label": f"blue Golf {i}", **vehicle_body(i)}
                    for i in range(4)]
            assert upload(client, "/vehicles/import", coordinator, csv_text(cars)).status_code == 200
            homes = []
            for i in range(HOUSEHOLDS):
                needs, phone = SPECIAL.get(i, ([], f"+35840222{i:04d}"))
                homes.append({**household_body(i), "address": f"Street {i}", "language": "", "needs": needs,
                              "phone": phone})
            assert upload(client, "/households/import", coordinator, csv_text(homes)).status_code == 200
            created = client.post("/alerts", headers=coordinator, json={
                "name": "storm", "deadline_minutes": 150, "flood_zones": data["alert"]["flood_zones"]})
            assert created.status_code == 202, created.text
            assert wait_job(client, coordinator, created.json()["job"]["id"])["status"] == "done"
            yield World(app, client, sms, smtp, created.json()["alert"]["id"])


def _deliver(app: Any) -> None:
    svc = services(app)
    sender = Sender(svc.db, svc.settings)
    while sender.run_once():
        pass
    sender.stop()


def _household_ids(app: Any) -> dict[str, int]:
    """Phone -> household id."""
    with services(app).db.sessions() as session:
        return {h.phone: h.id for h in session.scalars(select(models.Household))}


def _served(app: Any, alert_id: int) -> dict[int, str]:
    """Household id -> the plan's driver id, for households in a route of version 1."""
    with services(app).db.sessions() as session:
        plan = session.scalar(select(models.Plan).where(models.Plan.alert_id == alert_id))
        assert plan is not None
        return {int(s["household_id"][1:]): r["driver_id"] for r in plan.plan["routes"] for s in r["stops"]
                if s["type"] == "pickup"}


def test_plan_messages_follow_hearing_and_vision(world: World) -> None:
    app, sms, smtp, alert_id = world.app, world.sms, world.smtp, world.alert_id
    _deliver(app)
    ids, served = _household_ids(app), _served(app, alert_id)
    texts = {s.to: s.body for s in sms.received}
    hearing, vision, both, landline = (ids[SPECIAL[i][1]] for i in range(4))
    assert {hearing, vision, both, landline} <= set(served), "every special household is in a route"
    assert "blue Golf" in texts[SPECIAL[0][1]] and "knock and show you a written message" in texts[SPECIAL[0][1]]
    assert "blue Golf" not in texts[SPECIAL[1][1]] and "say their name" in texts[SPECIAL[1][1]]
    assert "blue Golf" not in texts[SPECIAL[2][1]] and "come to your door and knock" in texts[SPECIAL[2][1]]
    plain = next(b for to, b in texts.items() if to.startswith("+35840222"))
    assert "blue Golf" in plain and "knock" not in plain
    # The landline household gets nothing (it would ring as a voice call); every coordinator is told instead.
    assert SPECIAL[3][1] not in texts
    with services(app).db.sessions() as session:
        told = list(session.scalars(select(models.Message).where(
            models.Message.template == Template.COORDINATOR_UNREACHABLE.value)))
        assert [m.event for m in told] == [f"unreachable:{alert_id}:household:{landline}"]
    mails = smtp.inbox.to("coord@example.org")
    assert any("must not be phoned" in m.get_payload(decode=True).decode() for m in mails)
    # Each driver's message carries the door instruction of its first pickup, never the need.
    driver_mails = [m.get_payload(decode=True).decode() for m in smtp.inbox.to("anna@example.org")]
    assert driver_mails and all(not any(w in b.lower() for w in NEED_WORDS) for b in driver_mails)
    for body in [*texts.values(), *driver_mails]:
        assert not any(word in body.lower() for word in NEED_WORDS), body
    # Nothing here is re-sent by another plan version handled twice: the coordinators' notice is once per alert.
    _deliver(app)
    assert len([m for m in smtp.inbox.to("coord@example.org") if "must not be phoned" in
                m.get_payload(decode=True).decode()]) == 1


def test_driver_is_told_what_to_do_at_the_door(world: World) -> None:
    app, client, alert_id = world.app, world.client, world.alert_id
    _deliver(app)
    ids, served = _household_ids(app), _served(app, alert_id)
    with services(app).db.sessions() as session:
        plan = session.scalar(select(models.Plan).where(models.Plan.alert_id == alert_id))
        assert plan is not None
        firsts = {r["driver_id"]: int(next(s for s in r["stops"] if s["type"] == "pickup")["household_id"][1:])
                  for r in plan.plan["routes"] if any(s["type"] == "pickup" for s in r["stops"])}
        rows = {m.event.rsplit(":", 1)[-1]: m.body for m in session.scalars(select(models.Message).where(
            models.Message.template == Template.DRIVER_PLAN.value))}
    door = {ids[SPECIAL[0][1]]: "knock and show a written message", ids[SPECIAL[1][1]]: "say your name",
            ids[SPECIAL[2][1]]: "go to the door and knock", ids[SPECIAL[3][1]]: "knock and show a written message"}
    for driver_id, first in firsts.items():
        expected = door.get(first)
        assert (expected in rows[driver_id]) if expected else "At this stop" not in rows[driver_id], rows[driver_id]
    assert served
    # The manifest: text (never call) the households that may not rely on voice, what to do at the door, and the
    # card to show them.
    anna = login(client, "anna@example.org")
    manifest = client.get(f"/alerts/{alert_id}/manifest", headers=anna)
    assert manifest.status_code == 200, manifest.text
    homes = {s["household"]["id"]: s["household"] for r in manifest.json()["routes"] for s in r["stops"]
             if s["type"] == "pickup" and s["household"]}
    assert homes[ids[SPECIAL[0][1]]]["contact"] == "text"
    assert "knock and show" in homes[ids[SPECIAL[0][1]]]["at_the_door"]
    assert homes[ids[SPECIAL[0][1]]]["door_card"].startswith("I am anna, your evacuation driver")
    assert homes[ids[SPECIAL[1][1]]]["contact"] == "call" and homes[ids[SPECIAL[1][1]]]["door_card"] == ""
    assert "say your name" in homes[ids[SPECIAL[1][1]]]["at_the_door"]
    plain = next(h for i, h in homes.items() if i not in {ids[p] for _, p in SPECIAL.values()})
    assert plain["contact"] == "call" and plain["at_the_door"] == "" and plain["door_card"] == ""


def test_coordinators_are_not_asked_to_phone_a_household_that_cannot_hear(world: World) -> None:
    app, alert_id = world.app, world.alert_id
    _deliver(app)
    with services(app).db.session() as session:  # the confirmation time has passed (no waiting on the clock)
        session.execute(update(models.Message).values(sent_at=models.utcnow() - timedelta(minutes=31)))
    _deliver(app)
    ids = _household_ids(app)
    with services(app).db.sessions() as session:
        chased = {m.event.rsplit(":", 1)[-1]: m for m in session.scalars(select(models.Message).where(
            models.Message.event.like(f"unconfirmed:{alert_id}:household:%")))}
    hearing = chased[str(ids[SPECIAL[0][1]])]
    assert hearing.template == Template.COORDINATOR_UNCONFIRMED_TEXT.value and "Do not phone" in hearing.body
    vision = chased[str(ids[SPECIAL[1][1]])]
    assert vision.template == Template.COORDINATOR_UNCONFIRMED.value and "Please call them" in vision.body
