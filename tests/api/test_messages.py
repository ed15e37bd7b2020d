"""Messages end to end on real protocols: a plan is published -> drivers and households are told over SMS (a local
server speaking Twilio's Messages API) and e-mail (a local SMTP server) -> a household replies 2 on a signed
webhook -> the re-plan tells only those whose pickup changed -> delivery receipts, opt-outs, check-ins.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api import models
from api.config import Settings
from api.main import create_app
from api.messaging.localsms import LocalSMS
from api.messaging.outbox import Pickup, _pickups
from api.messaging.sender import Sender, _Lease
from tests.api.factories import (
    Headers,
    flooded_alert,
    four_cars,
    import_kotka,
    login,
    make_user,
    services,
    user,
    wait_job,
)
from tests.api.messaging_helpers import PUBLIC, SMTPServer, messaging_settings, signed_post, sms_reply

HOUSEHOLDS = 12


@dataclass
class World:
    app: FastAPI
    client: TestClient
    sms: LocalSMS
    smtp: SMTPServer
    coordinator: Headers
    alert: dict[str, Any]

    @property
    def svc(self) -> Any:
        return services(self.app)

    def deliver(self) -> int:
        """Run a sender until nothing is due; how many messages it handled."""
        sender = Sender(self.svc.db, self.svc.settings)
        total = 0
        while (n := sender.run_once()) > 0:
            total += n
        sender.stop()
        return total

    def rows(self, **where: Any) -> list[models.Message]:
        with self.svc.db.sessions() as session:
            query = select(models.Message).order_by(models.Message.id)
            for key, value in where.items():
                query = query.where(getattr(models.Message, key) == value)
            return list(session.scalars(query))

    def plan(self, version: int) -> dict[str, Any]:
        response = self.client.get(f"/alerts/{self.alert['id']}/plans/{version}", headers=self.coordinator)
        assert response.status_code == 200, response.text
        return response.json()["plan"] if "plan" in response.json() else response.json()


def _seed(app: FastAPI, client: TestClient) -> tuple[Headers, dict[str, Any]]:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    for email in ("anna@example.org", "bert@example.org"):
        make_user(app, email)
    languages = ["fi", "es"] + [""] * (HOUSEHOLDS - 2)
    import_kotka(client, coordinator, HOUSEHOLDS,
                 four_cars("anna@example.org", "bert@example.org", lambda i: {"label": f"Car {i}"}),
                 lambda i: {"address": f"Street {i}", "language": languages[i], "needs": ["oxygen"] if i == 0 else []})
    alert, _ = flooded_alert(client, coordinator)
    return coordinator, alert


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with LocalSMS() as sms, SMTPServer() as smtp:
        # A page's event stream stays open past a slow re-plan (the loop test keeps the driver's open).
        app = create_app(messaging_settings(settings, sms, smtp, stream_seconds=300, stream_poll_seconds=0.2))
        with TestClient(app) as client:
            coordinator, alert = _seed(app, client)
            yield World(app, client, sms, smtp, coordinator, alert)


def _household_phone(world: World, plan_household_id: str) -> str:
    with world.svc.db.sessions() as session:
        row = session.get_one(models.Household, int(plan_household_id[1:]))
        return "+" + "".join(ch for ch in row.phone if ch.isdigit())


def test_plan_tells_every_driver_and_household_once(world: World) -> None:
    """Version 1: each household in a route gets one SMS (its language, a 15-minute window, reply options, never
    its needs); each driver with pickups one e-mail (no phone on their account) with a manifest link."""
    plan = world.plan(1)
    with world.svc.db.sessions() as session:
        version = session.scalar(select(models.Plan).where(models.Plan.alert_id == world.alert["id"]))
        assert version is not None
        households, drivers = _pickups(version.plan, set())
    assert households, plan
    handled = world.deliver()
    sent = world.rows(event=f"plan:{world.alert['id']}:v1")
    assert handled >= len(sent) > 0
    by_phone = {s.to: s for s in world.sms.received}
    assert len(by_phone) == len(world.sms.received), "one SMS per household"
    for hid in households:
        sms = by_phone[_household_phone(world, hid)]
        assert "Reply 1" in sms.body or "Vastaa 1" in sms.body or "Responda 1" in sms.body
        assert "oxygen" not in sms.body
        assert sms.body.endswith(f"[#{next(r.id for r in sent if r.recipient == f'household:{hid[1:]}')}]")
    with world.svc.db.sessions() as session:  # ids depend on what earlier tests stored: find it by its language
        finnish = session.scalars(select(models.Household.id).where(models.Household.language == "fi")).one()
    if f"H{finnish}" in households:
        assert "hakee" in by_phone[_household_phone(world, f"H{finnish}")].body
    busy = {d for d, p in drivers.items() if p}
    mails = world.smtp.inbox.mails
    assert len(mails) == len(busy)  # one per car with pickups, to its owner
    for mail in mails:
        assert mail["To"] in ("anna@example.org", "bert@example.org")
        text = mail.get_payload(decode=True).decode()
        assert f"{PUBLIC}/app/manifest?alert={world.alert['id']}" in text and "pickups" in text
    assert all(r.status == "sent" and r.provider_id for r in sent)
    # Every send is audited; the provider's id is kept.
    with world.svc.db.sessions() as session:
        audited = session.scalar(select(func.count()).select_from(models.AuditEntry).where(
            models.AuditEntry.action == "send", models.AuditEntry.entity == "message"))
    assert audited == len(world.rows(status="sent"))


def _affected(before: dict[str, Pickup], after: dict[str, Pickup], moved: float) -> set[str]:
    return {h for h, p in after.items()
            if h not in before or before[h].driver_id != p.driver_id or abs(before[h].minute - p.minute) > moved}


def test_reply_2_withdraws_and_the_replan_tells_only_the_affected(world: World) -> None:
    """A household replies 2: it leaves the alert, the re-plan job publishes version 2 without it, and version 2's
    messages go only to households whose driver changed or pickup moved by more than the setting, and to drivers
    whose pickups changed. The withdrawn household gets one confirmation; nothing is sent twice."""
    world.deliver()
    with world.svc.db.sessions() as session:
        v1 = session.scalar(select(models.Plan).where(models.Plan.alert_id == world.alert["id"]))
        assert v1 is not None
        before, drivers_before = _pickups(v1.plan, set())
    leaving = sorted(before)[0]
    phone = _household_phone(world, leaving)
    response = sms_reply(world.client, "SMreply1", phone, " 2 ")
    assert response.status_code == 200 and "<Response>" in response.text
    # The same webhook again (the provider retries): nothing more happens.
    assert sms_reply(world.client, "SMreply1", phone, " 2 ").status_code == 200
    with world.svc.db.sessions() as session:
        assert [r.outcome for r in session.scalars(select(models.Reply))] == ["withdrawn"]
        job = session.scalar(select(models.PlanJob).where(models.PlanJob.kind == "replan"))
        assert job is not None and job.reason == "withdrawn"
        alert = session.get_one(models.Alert, world.alert["id"])
        assert alert.household_ids is not None and int(leaving[1:]) not in alert.household_ids
    assert wait_job(world.client, world.coordinator, job.id)["status"] == "done"
    world.deliver()
    with world.svc.db.sessions() as session:
        v2 = session.scalar(select(models.Plan).where(models.Plan.alert_id == world.alert["id"],
                                                      models.Plan.version == 2))
        assert v2 is not None
        after, drivers_after = _pickups(v2.plan, set())
    assert leaving not in after
    told = {r.recipient for r in world.rows(event=f"plan:{world.alert['id']}:v2")}
    expected = {f"household:{h[1:]}" for h in _affected(before, after, world.svc.settings.notify_moved_minutes)}
    assert told == expected
    driver_events = [r for r in world.rows() if r.event.startswith(f"plan:{world.alert['id']}:v2:")]
    changed = {d for d in drivers_after if [p.place for p in drivers_after[d]] != [p.place for p in
                                                                                  drivers_before.get(d, [])]}
    assert len(driver_events) <= len(changed) + len({d for d in drivers_after if d not in changed})
    affected_people = len(expected) + len(changed)
    assert len(told) + len(driver_events) <= 2 * max(1, affected_people)
    # The withdrawn household got exactly one confirmation, and every SMS went once.
    confirmation = world.rows(recipient=f"household:{leaving[1:]}", event=f"withdrawn:{world.alert['id']}")
    assert [r.template for r in confirmation] == ["withdrawn"]
    bodies = [s.body for s in world.sms.received]
    assert len(bodies) == len(set(bodies))


def test_webhooks_unsigned_or_wrongly_signed_are_refused_and_change_nothing(world: World) -> None:
    world.deliver()
    phone = world.sms.received[0].to
    form = {"MessageSid": "SMx", "From": phone, "Body": "2"}
    assert signed_post(world.client, "/webhooks/twilio/inbound", form, signature="").status_code == 403
    assert signed_post(world.client, "/webhooks/twilio/inbound", form, token="wrong-token").status_code == 403
    assert signed_post(world.client, "/webhooks/twilio/inbound", form, signature="AAAA").status_code == 403
    receipt = {"MessageSid": world.sms.received[0].sid, "MessageStatus": "delivered"}
    assert signed_post(world.client, "/webhooks/twilio/status", receipt, token="wrong-token").status_code == 403
    with world.svc.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.Reply)) == 0
        assert session.scalar(select(func.count()).select_from(models.PlanJob).where(
            models.PlanJob.kind == "replan")) == 0
        assert session.get_one(models.Alert, world.alert["id"]).household_ids is None
    assert not world.rows(status="delivered")


def test_delivery_receipts_are_recorded(world: World) -> None:
    world.deliver()
    first, second = world.sms.received[:2]
    assert signed_post(world.client, "/webhooks/twilio/status",
                       {"MessageSid": first.sid, "MessageStatus": "delivered"}).status_code == 204
    assert signed_post(world.client, "/webhooks/twilio/status",
                       {"MessageSid": second.sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
                       ).status_code == 204
    assert [r.provider_id for r in world.rows(status="delivered")] == [first.sid]
    failed = world.rows(status="failed")
    assert [r.provider_id for r in failed] == [second.sid] and "30003" in (failed[0].error or "")
    listed = world.client.get(f"/alerts/{world.alert['id']}/messages", headers=world.coordinator).json()
    assert listed["summary"]["counts"]["delivered"] == 1
    assert {m["status"] for m in listed["messages"]} >= {"delivered", "failed"}
    assert all(m["to"].startswith("*") for m in listed["messages"] if m["channel"] == "sms")


def test_help_request_reaches_coordinators_and_thanks_gets_one_help_text(world: World) -> None:
    world.deliver()
    phone = world.sms.received[0].to
    assert sms_reply(world.client, "SM1", phone, "3").status_code == 200
    assert sms_reply(world.client, "SM2", phone, "thanks!").status_code == 200
    assert sms_reply(world.client, "SM3", phone, "thank you again").status_code == 200
    world.deliver()
    replies = world.client.get(f"/alerts/{world.alert['id']}/replies", headers=world.coordinator).json()
    assert [r["outcome"] for r in replies] == ["help", "help_text", "help_text"]
    assert len(world.smtp.inbox.to("coord@example.org")) == 1  # the coordinator has no phone: e-mail
    help_texts = [s for s in world.sms.received if s.to == phone and "STOP" in s.body]
    assert len(help_texts) == 1
    with world.svc.db.sessions() as session:  # nothing created or changed a request
        assert session.scalar(select(func.count()).select_from(models.PlanJob)) == 1


def test_stop_opts_out_until_start(world: World) -> None:
    world.deliver()
    phone = world.sms.received[0].to
    assert sms_reply(world.client, "SMs1", phone, "STOP").status_code == 200
    assert sms_reply(world.client, "SMs2", phone, "thanks").status_code == 200  # the help text is not sent
    world.deliver()
    held = [r for r in world.rows(to_address=phone) if r.template == "help_text"]
    assert [r.status for r in held] == ["failed"] and "STOP" in (held[0].error or "")
    assert sms_reply(world.client, "SMs3", phone, "START").status_code == 200
    with world.svc.db.sessions() as session:
        assert session.get_one(models.OptOut, phone).active is False


def test_a_stop_between_claim_and_send_holds(world: World) -> None:
    """A claimed batch can wait on the provider's pace; a STOP that arrives meanwhile stops the message."""
    world.deliver()
    phone = world.sms.received[0].to
    with world.svc.db.session() as session:
        session.add(models.Message(event="stop-test", recipient="household:stop-test", channel="sms",
                                   to_address=phone, template="reminder", language="en", body="Reminder",
                                   status="queued"))
    sender = Sender(world.svc.db, world.svc.settings)
    with world.svc.db.sessions() as session:
        batch, _ = sender.claim(session)
    assert [m.to for m in batch] == [phone]
    assert sms_reply(world.client, "SMs9", phone, "STOP").status_code == 200
    before = len(world.sms.received)
    lease = _Lease(sender, [m.id for m in batch], every=60)
    for message in batch:
        sender.deliver(message, lease)
    sender.stop()
    assert len(world.sms.received) == before, "nothing went to the number that answered STOP"
    [row] = world.rows(event="stop-test")
    assert row.status == "failed" and "STOP" in (row.error or "")


def test_nothing_configured_keeps_messages_queued_and_says_why(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"embedded_notifier": False}))
    with TestClient(app) as client:
        coordinator, alert = _seed(app, client)
        svc = services(app)
        assert Sender(svc.db, svc.settings).run_once() == 0
        listed = client.get(f"/alerts/{alert['id']}/messages", headers=coordinator).json()
        assert listed["messages"] and all(m["status"] == "queued" for m in listed["messages"])
        assert "sms: not sent: no SMS provider set up" in listed["summary"]["blocked"]
        assert {m["note"] for m in listed["messages"] if m["channel"] == "sms"} == {"not sent: no SMS provider set up"}
        volunteer = login(client, "anna@example.org")
        assert client.get(f"/alerts/{alert['id']}/messages", headers=volunteer).status_code == 403


def test_checkin_confirms_and_flags_records(world: World) -> None:
    started = world.client.post("/checkins", headers=world.coordinator, json={"note": "November"})
    assert started.status_code == 201, started.text
    assert started.json()["messages"] == HOUSEHOLDS + 2
    stale = world.client.get("/checkins/stale", headers=world.coordinator).json()
    assert len(stale) == HOUSEHOLDS + 4  # nobody confirmed yet
    world.deliver()
    checkin_sms = [s for s in world.sms.received if "check-in" in s.body.lower() or "tarkistus" in s.body.lower()
                   or "revisión" in s.body.lower()]
    assert len(checkin_sms) == HOUSEHOLDS
    assert sms_reply(world.client, "SMc1", checkin_sms[0].to, "1").status_code == 200
    assert sms_reply(world.client, "SMc2", checkin_sms[1].to, "2").status_code == 200
    anna = login(world.client, "anna@example.org")
    mine = world.client.get("/checkins/stale?kind=vehicle", headers=anna).json()
    assert len(mine) == 2
    answered = world.client.post("/checkins/answers", headers=anna, json={"vehicle_ids": [m["id"] for m in mine]})
    assert answered.status_code == 200, answered.text
    assert world.client.get("/checkins/stale?kind=vehicle", headers=anna).json() == []
    bert_car = next(r for r in stale if r["kind"] == "vehicle" and r["id"] not in {m["id"] for m in mine})
    assert world.client.post("/checkins/answers", headers=anna,
                             json={"vehicle_ids": [bert_car["id"]]}).status_code == 404
    stale = world.client.get("/checkins/stale", headers=world.coordinator).json()
    flagged = [r for r in stale if r["changed_at"] is not None]
    assert len(stale) == HOUSEHOLDS - 1 + 2 and len(flagged) == 1


def test_households_gone_quiet_are_reported_to_coordinators_once(world: World) -> None:
    """Households not confirming within the setting are named to the coordinators (once each); one that
    confirmed is not; drivers reached by e-mail cannot acknowledge by text and are not chased."""
    world.deliver()
    told = [r for r in world.rows(event=f"plan:{world.alert['id']}:v1")]
    households = [r for r in told if r.recipient.startswith("household:")]
    assert sms_reply(world.client, "SMq1", households[0].to_address, "1").status_code == 200
    with world.svc.db.session() as session:  # the setting's time has passed (no waiting on the clock)
        session.execute(update(models.Message).values(sent_at=models.utcnow() - timedelta(minutes=31)))
    world.deliver()
    world.deliver()
    chased = world.rows(template="coordinator_unconfirmed")
    assert sorted(r.event for r in chased) == sorted(f"unconfirmed:{world.alert['id']}:{r.recipient}"
                                                    for r in households[1:])
    assert not world.rows(template="coordinator_no_ack")
    mails = world.smtp.inbox.to("coord@example.org")
    assert len(mails) == len(households) - 1
    assert all("has not confirmed" in m.get_payload(decode=True).decode() for m in mails)


def test_team_contact_lists_after_a_checkin(world: World) -> None:
    """A driver's team as CSV, dated with the check-in: their car's pickups in the newest plan, with phones;
    the car's owner and coordinators may download it, another volunteer gets 404."""
    checkin = world.client.post("/checkins", headers=world.coordinator, json={}).json()
    with world.svc.db.sessions() as session:
        plan = session.scalar(select(models.Plan).where(models.Plan.alert_id == world.alert["id"]))
        assert plan is not None
        _households, drivers = _pickups(plan.plan, set())
        owners = {f"V{v.id}": v.owner_id for v in session.scalars(select(models.Vehicle))}
        anna = session.scalar(select(models.User.id).where(models.User.email == "anna@example.org"))
    driver_id = next(d for d, p in drivers.items() if p and owners[d] == anna)
    path = f"/checkins/{checkin['id']}/teams/{driver_id}/contacts"
    response = world.client.get(path, headers=login(world.client, "anna@example.org"))
    assert response.status_code == 200, response.text
    date = checkin["started_at"][:10]
    assert f"contacts-{driver_id}-{date}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["household_id"] for r in rows] == [p.place for p in drivers[driver_id]]
    assert all(r["checkin_date"] == date and r["household_phone"] for r in rows)
    assert world.client.get(path, headers=world.coordinator).status_code == 200
    assert world.client.get(path, headers=login(world.client, "bert@example.org")).status_code == 404
    assert world.client.get(f"/checkins/999/teams/{driver_id}/contacts",
                            headers=world.coordinator).status_code == 404


def test_event_stream_sends_changes_and_holds_no_database_slot(settings: Settings) -> None:
    """The page's stream: the current state first, then a change event when a new plan version is published;
    while it is open every database slot stays free for requests (a request's session would hold one for the
    stream's whole length)."""
    app = create_app(Settings(**{**settings.model_dump(), "embedded_notifier": False, "stream_seconds": 60,
                                 "stream_poll_seconds": 0.1, "db_concurrency": 2}))
    with TestClient(app) as client:
        coordinator, alert = _seed(app, client)
        svc = services(app)
        with client.stream("GET", f"/alerts/{alert['id']}/events", headers=coordinator) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            assert '"version":1' in first.replace(" ", "")
            gates = list(svc._gates.values())
            assert gates and all(g._value == svc.db.request_slots for g in gates)
            assert client.get(f"/alerts/{alert['id']}/live", headers=coordinator).json()["version"] == 1
            job = client.post(f"/alerts/{alert['id']}/replan", headers=coordinator)
            assert job.status_code == 202, job.text
            assert wait_job(client, coordinator, job.json()["id"])["status"] == "done"
            change = next(line for line in lines if line.startswith("data:"))
            assert '"version":2' in change.replace(" ", "")
        assert client.get(f"/alerts/{alert['id']}/events", headers={"Authorization": "Bearer nope"}
                          ).status_code == 401


def test_a_message_of_unknown_outcome_is_resent_only_by_a_coordinator(world: World) -> None:
    """A message whose sender lost touch mid-handover (``unknown``) is never sent again by itself; a coordinator
    may queue it again once the person says it did not arrive (audited); nothing else can be resent."""
    world.deliver()
    first = world.rows(event=f"plan:{world.alert['id']}:v1")[0]
    with world.svc.db.session() as session:
        session.execute(update(models.Message).where(models.Message.id == first.id)
                        .values(status="unknown", error="lost touch"))
    received = len(world.sms.received) + len(world.smtp.inbox.mails)
    world.deliver()
    assert len(world.sms.received) + len(world.smtp.inbox.mails) == received, "unknown is not sent by itself"
    listed = world.client.get(f"/alerts/{world.alert['id']}/messages?status=unknown", headers=world.coordinator)
    assert [m["id"] for m in listed.json()["messages"]] == [first.id]
    volunteer = login(world.client, "anna@example.org")
    assert world.client.post(f"/messages/{first.id}/resend", headers=volunteer).status_code == 403
    resent = world.client.post(f"/messages/{first.id}/resend", headers=world.coordinator)
    assert resent.status_code == 200 and resent.json()["status"] == "queued"
    assert world.client.post(f"/messages/{first.id}/resend", headers=world.coordinator).status_code == 409
    world.deliver()
    assert len(world.sms.received) + len(world.smtp.inbox.mails) == received + 1
    assert world.rows(id=first.id)[0].status == "sent"
    with world.svc.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.AuditEntry).where(
            models.AuditEntry.action == "resend", models.AuditEntry.entity_id == first.id)) == 1


def test_done_when_the_whole_loop(world: World) -> None:
    """The issue's "Done when", in one run (docs/messages.md, walk-through): alert -> plan -> drivers and households
    get their messages -> a household replies 2 -> a re-plan -> only the affected are told -> the driver's open
    manifest stream announces the change by itself (tests/web/test_live_messages.py shows the page acting on it) ->
    a monthly check-in marks the records nobody confirmed as stale."""
    alert_id = world.alert["id"]
    anna = login(world.client, "anna@example.org")
    assert world.client.get(f"/alerts/{alert_id}/manifest", headers=anna).json()["plan_version"] == 1
    with world.client.stream("GET", f"/alerts/{alert_id}/events", headers=anna) as stream:  # the open manifest
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert '"version":1' in next(line for line in lines if line.startswith("data:")).replace(" ", "")
        # Drivers (by e-mail: no phone on their accounts) and households (by SMS) get their messages.
        world.deliver()
        with world.svc.db.sessions() as session:
            v1 = session.get_one(models.Plan, session.scalar(select(models.Plan.id).where(
                models.Plan.alert_id == alert_id, models.Plan.version == 1)))
            before, _drivers_before = _pickups(v1.plan, set())
        assert {s.to for s in world.sms.received} >= {_household_phone(world, h) for h in before}
        owners = {"anna@example.org", "bert@example.org"}
        assert {m["To"] for m in world.smtp.inbox.mails} <= owners and world.smtp.inbox.to("anna@example.org")
        # A household replies 2 on a signed webhook: it leaves the plan through the re-plan job.
        leaving = sorted(before)[0]
        assert sms_reply(world.client, "SMloop2", _household_phone(world, leaving), "2").status_code == 200
        with world.svc.db.sessions() as session:
            job = session.scalar(select(models.PlanJob).where(models.PlanJob.kind == "replan"))
            assert job is not None and job.reason == "withdrawn"
        assert wait_job(world.client, world.coordinator, job.id)["status"] == "done"
        # The driver's open stream announces version 2 without anything being asked of it.
        assert '"version":2' in next(line for line in lines if line.startswith("data:")).replace(" ", "")
    assert world.client.get(f"/alerts/{alert_id}/manifest", headers=anna).json()["plan_version"] == 2
    sms_before = len(world.sms.received)
    world.deliver()
    with world.svc.db.sessions() as session:
        v2 = session.get_one(models.Plan, session.scalar(select(models.Plan.id).where(
            models.Plan.alert_id == alert_id, models.Plan.version == 2)))
        after, _drivers_after = _pickups(v2.plan, set())
    assert leaving not in after
    affected = _affected(before, after, world.svc.settings.notify_moved_minutes)
    told = {r.recipient for r in world.rows(event=f"plan:{alert_id}:v2")}
    assert told == {f"household:{h[1:]}" for h in affected}, "only the affected households are told"
    new_sms = world.sms.received[sms_before:]
    assert {s.to for s in new_sms} <= {_household_phone(world, h) for h in affected} | {
        _household_phone(world, leaving)}  # and the one that left gets its "ride cancelled"
    # A monthly check-in: one household confirms, one says something changed; the rest are listed as stale.
    assert world.client.post("/checkins", headers=world.coordinator, json={"note": "monthly"}).status_code == 201
    world.deliver()
    asked = [s.to for s in world.sms.received if s.body.startswith(("Monthly check-in", "Kuukausi", "Revisión"))]
    assert len(asked) == HOUSEHOLDS
    assert sms_reply(world.client, "SMloopc1", asked[0], "1").status_code == 200
    assert sms_reply(world.client, "SMloopc2", asked[1], "2").status_code == 200
    stale = world.client.get("/checkins/stale?kind=household", headers=world.coordinator).json()
    assert len(stale) == HOUSEHOLDS - 1
    assert len([r for r in stale if r["changed_at"] is not None]) == 1
