"""Each reply in each state (a state-machine table), on SQLite and PostgreSQL: what it does and what it leaves
alone. States: waiting (just told), confirmed, withdrawn, opted out, alert ended; replies: the confirmations in
three languages, 2, 3, STOP, START and a "thanks"; plus an unknown number and a duplicate webhook."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from api import models
from api.config import Settings
from api.db import Database
from api.messaging import replies
from api.messaging.replies import Outcome

PHONE = "+358401112223"


@dataclass
class Case:
    db: Database
    settings: Settings
    alert_id: int
    household_id: int
    counter: int = 0

    def reply(self, body: str, sender: str = PHONE, sid: str | None = None) -> Outcome:
        self.counter += 1
        with self.db.session() as session:
            return replies.handle(session, self.settings, sid or f"SM{self.counter}", sender, body)

    def snapshot(self) -> tuple[object, ...]:
        """What a reply may change: the alert's scope and status, jobs, messages per template, opt-outs."""
        with self.db.sessions() as session:
            alert = session.get_one(models.Alert, self.alert_id)
            jobs = session.scalar(select(func.count()).select_from(models.PlanJob))
            templates = tuple(sorted(session.scalars(select(models.Message.template))))
            opt = session.get(models.OptOut, PHONE)
            return (alert.household_ids, alert.status, jobs, templates, None if opt is None else opt.active)


@pytest.fixture
def case(settings: Settings) -> Iterator[Case]:
    db = Database(settings)
    with db.session() as session:
        coordinator = models.User(email="c@example.org", password_hash="-", role="coordinator", phone="")
        session.add(coordinator)
        session.flush()
        household = models.Household(registrar_id=coordinator.id, name="Aino", phone="040 111 2223", lat=60.5,
                                     lon=26.9, people=1, language="fi")
        other = models.Household(registrar_id=coordinator.id, name="Other", phone="", lat=60.5, lon=26.9, people=1)
        alert = models.Alert(name="storm", deadline_minutes=120, created_by=coordinator.id)
        session.add_all([household, other, alert])
        session.flush()
        job = models.PlanJob(alert_id=alert.id, status="done")
        session.add(job)
        session.flush()
        session.add(models.Plan(alert_id=alert.id, version=1, job_id=job.id, plan={"routes": [], "unserved": []},
                                geojson={}, scenario={}))
        session.add(models.Message(alert_id=alert.id, event="plan:1:v1", recipient=f"household:{household.id}",
                                   channel="sms", to_address=PHONE, template="household_assigned", language="fi",
                                   body="...", status="sent", sent_at=models.utcnow(), provider_id="SMout"))
        ids = (alert.id, household.id)
    yield Case(db, settings, *ids)
    db.dispose()


def _enter(case: Case, state: str) -> None:
    if state == "confirmed":
        assert case.reply("1") is Outcome.CONFIRMED
    elif state == "withdrawn":
        assert case.reply("2") is Outcome.WITHDRAWN
    elif state == "opted_out":
        assert case.reply("STOP") is Outcome.OPTED_OUT
    elif state == "ended":
        with case.db.session() as session:
            session.get_one(models.Alert, case.alert_id).status = "closed"


CONFIRM = ["1", "YES", "Kyllä!", "sí", "KYLLA"]
#: state -> reply -> outcome. A withdrawn household's 1 or 2 changes nothing (a text never brings a request
#: back); its 3 is still a help request. STOP and START work in every state; an ended alert hears nothing else.
TABLE: dict[str, dict[str, Outcome]] = {
    "waiting": {**dict.fromkeys(CONFIRM, Outcome.CONFIRMED), "2": Outcome.WITHDRAWN, "3": Outcome.HELP,
                "STOP": Outcome.OPTED_OUT, "start": Outcome.OPTED_IN, "thanks": Outcome.HELP_TEXT},
    "confirmed": {**dict.fromkeys(CONFIRM, Outcome.CONFIRMED), "2": Outcome.WITHDRAWN, "3": Outcome.HELP,
                  "STOP": Outcome.OPTED_OUT, "start": Outcome.OPTED_IN, "thanks": Outcome.HELP_TEXT},
    "withdrawn": {**dict.fromkeys(CONFIRM, Outcome.IGNORED), "2": Outcome.IGNORED, "3": Outcome.HELP,
                  "STOP": Outcome.OPTED_OUT, "start": Outcome.OPTED_IN, "thanks": Outcome.HELP_TEXT},
    "opted_out": {**dict.fromkeys(CONFIRM, Outcome.CONFIRMED), "2": Outcome.WITHDRAWN, "3": Outcome.HELP,
                  "STOP": Outcome.OPTED_OUT, "start": Outcome.OPTED_IN, "thanks": Outcome.HELP_TEXT},
    "ended": {**dict.fromkeys(CONFIRM, Outcome.ALERT_ENDED), "2": Outcome.ALERT_ENDED, "3": Outcome.ALERT_ENDED,
              "STOP": Outcome.OPTED_OUT, "start": Outcome.OPTED_IN, "thanks": Outcome.ALERT_ENDED},
}
CASES = [(state, body, outcome) for state, row in TABLE.items() for body, outcome in row.items()]


@pytest.mark.parametrize(("state", "body", "outcome"), CASES, ids=[f"{s}-{b}" for s, b, _ in CASES])
def test_reply_in_state(case: Case, state: str, body: str, outcome: Outcome) -> None:
    _enter(case, state)
    before = case.snapshot()
    assert case.reply(body) is outcome
    scope, status, jobs, templates, opted = case.snapshot()
    if outcome is Outcome.WITHDRAWN:
        assert scope is not None and case.household_id not in scope and len(scope) == 1  # the other stays
        assert jobs == before[2] + 1  # the existing re-plan job takes the pickup out
        assert "withdrawn" in templates
    else:
        assert (scope, status, jobs) == before[:3], "only a withdrawal changes the alert or queues a re-plan"
    new = sorted(set(templates) - set(before[3])) if len(templates) > len(before[3]) else []
    expected_new = {Outcome.WITHDRAWN: ["withdrawn"], Outcome.HELP: ["coordinator_help"],
                    Outcome.HELP_TEXT: [] if "help_text" in before[3] else ["help_text"]}.get(outcome, [])
    assert new == expected_new
    if outcome in (Outcome.OPTED_OUT, Outcome.OPTED_IN):
        assert opted is (outcome is Outcome.OPTED_OUT)
    else:
        assert opted == before[4]


def test_thanks_twice_gets_one_help_text(case: Case) -> None:
    assert case.reply("thanks") is Outcome.HELP_TEXT
    assert case.reply("thank you!") is Outcome.HELP_TEXT
    with case.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.Message)
                              .where(models.Message.template == "help_text")) == 1


def test_unknown_number_and_duplicate_change_nothing(case: Case) -> None:
    before = case.snapshot()
    assert case.reply("2", sender="+358409999999") is Outcome.UNKNOWN_NUMBER
    assert case.snapshot() == before
    assert case.reply("2", sid="SMdup") is Outcome.WITHDRAWN
    after = case.snapshot()
    assert case.reply("2", sid="SMdup") is Outcome.DUPLICATE
    assert case.reply("3", sid="SMdup") is Outcome.DUPLICATE
    assert case.snapshot() == after
    with case.db.sessions() as session:
        outcomes = [r.outcome for r in session.scalars(select(models.Reply).order_by(models.Reply.id))]
        audited = session.scalar(select(func.count()).select_from(models.AuditEntry)
                                 .where(models.AuditEntry.action == "reply"))
    assert outcomes == ["unknown_number", "withdrawn"] and audited == 2


def test_replied_message_shows_replied(case: Case) -> None:
    case.reply("kyllä")
    with case.db.sessions() as session:
        assert session.scalar(select(models.Message.status).where(models.Message.provider_id == "SMout")) == "replied"
