"""ORM tables. Every mutable row has a ``version`` that SQLAlchemy checks on UPDATE (optimistic concurrency).

Times of day are stored as UTC. Vehicle availability and alert deadlines are minutes after the alert starts,
as in the matcher, because volunteers register weeks before any alert ("free from 30 min after an alert, for
3 hours").
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from matcher.codes import StopStatus as StopStatusCode
from matcher.plan import Plan as MatcherPlan

ROLES = ("coordinator", "volunteer", "registrar")
ALERT_STATUSES = ("active", "closed")
JOB_STATUSES = ("queued", "running", "done", "failed")
#: ``plan``: solve the alert from scratch; ``replan``: continue the latest plan version from the live state.
JOB_KINDS = ("plan", "replan")
STOP_STATUSES = tuple(StopStatusCode)
#: Self-signed-up accounts and volunteer-registered cars start ``pending``: they take no part in a plan until a
#: coordinator approves them (docs/security.md "Vetting").
APPROVALS = ("pending", "approved")
#: Only a coordinator may mark a vehicle a bus or van, which lifts the car bounds on seats and wheelchair spaces.
VEHICLE_KINDS = ("car", "van", "bus")
#: An outbox row's life: ``queued`` -> ``sending`` (claimed) -> ``sent`` -> ``delivered`` | ``failed``; ``replied``
#: once its person answered; ``cancelled`` when a later plan version made it pointless (a reminder); ``unknown``
#: when its sender stopped while handing it to a provider that cannot be asked afterwards (SMTP): it may have gone,
#: so it is not sent again blindly; a coordinator decides (docs/messages.md).
MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "replied", "cancelled", "unknown")
MESSAGE_CHANNELS = ("sms", "email", "log")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite compares the stored text, so store one fixed form without an offset.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Ids are never re-issued (SQLite's AUTOINCREMENT; PostgreSQL sequences never go back): plans, audit entries
        # and drivers' manifests refer to records by id, so a deleted record's id must never name a new one.
        args = cls.__dict__.get("__table_args__", ())
        if "__tablename__" in cls.__dict__ and not isinstance(args, dict):
            cls.__table_args__ = (*args, {"sqlite_autoincrement": True})
        super().__init_subclass__(**kwargs)


class Versioned:
    """A ``version`` bumped on every UPDATE; an UPDATE whose version no longer matches raises StaleDataError."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class User(Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_users_role"),
                      CheckConstraint(_in("approval", APPROVALS), name="ck_users_approval"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    language: Mapped[str] = mapped_column(String(20), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``pending`` until a coordinator approves a self-signed-up account; only approved accounts' cars are planned.
    approval: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")
    #: Bumped on password change, deactivation, sign-out and "end all sessions": tokens carry the version they
    #: were issued at, and one with an older version is refused (so a session can be ended before it expires).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Set when a coordinator gives a temporary password: the account may only change its password until it does.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vehicle(Versioned, Base):
    """A volunteer's car. ``available_until_minute`` ``None``: until the alert's deadline."""

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint("seats >= 0 AND wheelchair_spaces >= 0", name="ck_vehicles_capacity"),
        CheckConstraint(_in("approval", APPROVALS), name="ck_vehicles_approval"),
        CheckConstraint(_in("kind", VEHICLE_KINDS), name="ck_vehicles_kind"),
        Index("ix_vehicles_owner_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    seats: Mapped[int] = mapped_column(Integer)
    wheelchair_spaces: Mapped[int] = mapped_column(Integer, default=0)
    available_from_minute: Mapped[float] = mapped_column(Float, default=0.0)
    available_until_minute: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    #: False: the volunteer takes no pets (allergy, small car); service animals still ride.
    takes_pets: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Language codes the driver speaks (``fi``, ``sv``, ...).
    languages: Mapped[list[Any]] = mapped_column(default=list)
    #: ``pending`` for cars volunteers register until a coordinator approves them; a coordinator's are approved.
    approval: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")
    kind: Mapped[str] = mapped_column(String(20), default="car", server_default="car")
    #: The neighbourhood the volunteer registered in (a regional plan may lend the car to a neighbouring zone).
    zone: Mapped[str] = mapped_column(String(80), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The last check-in answer "still right" (``None``: never confirmed); ``changed_at``: answered "changed",
    #: so its registrar (or owner) must look at it.
    confirmed_at: Mapped[datetime | None] = mapped_column()
    changed_at: Mapped[datetime | None] = mapped_column()


class Household(Versioned, Base):
    """People at one address who need a ride; ``people`` includes the wheelchair users."""

    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint(
            "people >= 1 AND wheelchair_users >= 0 AND wheelchair_users <= people", name="ck_households_people"
        ),
        Index("ix_households_registrar_id", "registrar_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registrar_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    people: Mapped[int] = mapped_column(Integer)
    wheelchair_users: Mapped[int] = mapped_column(Integer, default=0)
    needs: Mapped[list[Any]] = mapped_column(default=list)
    pets: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(20), default="")
    priority: Mapped[int] = mapped_column(Integer, default=3)
    #: Walk to a meeting point when the street is closed; ``None``: the default rule, 0: cannot walk.
    max_walk_meters: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The registered neighbourhood: a regional plan solves each zone on its own and then coordinates them.
    zone: Mapped[str] = mapped_column(String(80), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    changed_at: Mapped[datetime | None] = mapped_column()


class Shelter(Versioned, Base):
    __tablename__ = "shelters"
    __table_args__ = (CheckConstraint("capacity >= 0", name="ck_shelters_capacity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    capacity: Mapped[int] = mapped_column(Integer)
    wheelchair_accessible: Mapped[bool] = mapped_column(Boolean, default=True)
    pets_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Pets it can keep; ``None`` with pets allowed: no limit beyond its capacity for people.
    pet_capacity: Mapped[int | None] = mapped_column(Integer)
    #: Power and staff for oxygen, power-dependent and dialysis users.
    medical_support: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    languages: Mapped[list[Any]] = mapped_column(default=list)
    zone: Mapped[str] = mapped_column(String(80), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Versioned, Base):
    """An evacuation order. ``household_ids`` ``None``: every registered household is in scope."""

    __tablename__ = "alerts"
    __table_args__ = (CheckConstraint(_in("status", ALERT_STATUSES), name="ck_alerts_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    start: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_minutes: Mapped[float] = mapped_column(Float)
    flood_zones: Mapped[list[Any]] = mapped_column(default=list)
    closed_ways: Mapped[list[Any]] = mapped_column(default=list)
    household_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanJob(Versioned, Base):
    """A request to solve an alert. Claimed by one worker at a time; ``heartbeat_at`` shows it is alive."""

    __tablename__ = "plan_jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="ck_plan_jobs_status"),
        CheckConstraint(_in("kind", JOB_KINDS), name="ck_plan_jobs_kind"),
        Index("ix_plan_jobs_status", "status", "id"),
        Index("ix_plan_jobs_alert_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    kind: Mapped[str] = mapped_column(String(20), default="plan", server_default="plan")
    #: What asked for the plan: ``alert`` (posted), ``manual`` (asked again), or a live event (``dropout``,
    #: ``closure``, ``new_household``, ``stop_status``, ``manual_replan``).
    reason: Mapped[str] = mapped_column(String(50), default="alert")
    #: A re-plan's minute after the alert start, when the request gave one; ``None``: the minute it is solved.
    minute: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: A coordinator confirmed this re-plan may publish a plan serving far fewer households than the one before.
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Plan(Base):
    """A published plan: never changed after insertion, so it has no ``version`` column of its own."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("alert_id", "version", name="uq_plans_alert_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    #: The plan version within its alert: 1, 2, ...
    version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int] = mapped_column(ForeignKey("plan_jobs.id"), unique=True)
    #: The solver's plan JSON (README "Plan format").
    plan: Mapped[dict[str, Any]] = mapped_column()
    geojson: Mapped[dict[str, Any]] = mapped_column()
    #: The scenario the solver was given (no names or phones), for re-planning and audits.
    scenario: Mapped[dict[str, Any]] = mapped_column()
    #: Re-plans only: the version it continues, the live minute it was made at, and the share of waiting
    #: households that kept their driver.
    base_version: Mapped[int | None] = mapped_column(Integer)
    minute: Mapped[float | None] = mapped_column(Float)
    stability: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @functools.cached_property
    def parsed(self) -> MatcherPlan:
        """The plan JSON parsed once into the matcher's typed ``Plan`` (a published plan never changes)."""
        return MatcherPlan.from_dict(self.plan)


class StopStatus(Versioned, Base):
    """The live status of one stop of a plan version, set by its driver or a coordinator."""

    __tablename__ = "stop_status"
    __table_args__ = (
        CheckConstraint(_in("status", STOP_STATUSES), name="ck_stop_status_status"),
        UniqueConstraint("plan_id", "driver_id", "stop_index", name="uq_stop_status_stop"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    #: The route's ``driver_id`` and the stop's index in it, as in the plan JSON.
    driver_id: Mapped[str] = mapped_column(String(50))
    stop_index: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Dropout(Base):
    """A vehicle that can drive no more in an alert (it still delivers riders on board). Append-only."""

    __tablename__ = "dropouts"
    __table_args__ = (UniqueConstraint("alert_id", "driver_id", name="uq_dropouts_driver"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    #: The plan's driver id (``V<vehicle id>``): kept as text so the vehicle may still be deleted later.
    driver_id: Mapped[str] = mapped_column(String(50))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class DrillRun(Versioned, Base):
    """A drill on the town as registered, run as a durable job (claimed, heartbeat, re-queued like plan jobs).

    The finished report (HTML with its plots, report.json, contact lists) is kept as a zip of the report folder,
    so every server process can serve it and the next drill is compared with it.
    """

    __tablename__ = "drill_runs"
    __table_args__ = (CheckConstraint(_in("status", JOB_STATUSES), name="ck_drill_runs_status"),
                      Index("ix_drill_runs_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The alert whose flood zones and closed roads the drill rehearses (none: the town without them).
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    runs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    #: The drill's scripted events in the drill file's timeline format (plan ids, e.g. ``V12``).
    timeline: Mapped[list[Any]] = mapped_column(default=list)
    #: The date the report carries (YYYY-MM-DD).
    drill_date: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    #: Headline figures of the report (people out, households at risk, cars to add, comparison counts).
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_zip: Mapped[bytes | None] = mapped_column(LargeBinary)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(Base):
    """Who read personal data or changed anything, and when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The user's e-mail or the worker's name, kept as text so the entry reads well on its own.
    actor: Mapped[str] = mapped_column(String(254))
    #: ``read``, ``list``, ``export``, ``create``, ``update``, ``delete``, ``import``, ``publish``, ...
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Message(Base):
    """One message to one person: the outbox row, written in the transaction of the event that causes it.

    ``event`` names that event (``plan:3:v2``, ``stop:17:on_the_way``, ``checkin:4``); one person gets at most one
    message per event and channel (the unique key), so an event handled twice never tells anyone twice.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="ck_messages_status"),
        CheckConstraint(_in("channel", MESSAGE_CHANNELS), name="ck_messages_channel"),
        UniqueConstraint("event", "recipient", "channel", name="uq_messages_event_recipient"),
        Index("ix_messages_status", "status", "send_after"),
        Index("ix_messages_alert_id", "alert_id"),
        Index("ix_messages_to_address", "to_address"),
        Index("ix_messages_provider_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id"))
    event: Mapped[str] = mapped_column(String(100))
    #: Who: ``household:12``, ``user:5`` (a driver, volunteer, registrar or coordinator).
    recipient: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(10))
    #: E.164 phone for SMS, e-mail address for e-mail.
    to_address: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(10), default="en")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not sent before this (a retry's backoff, or a reminder's time).
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column()
    #: Set (and committed) just before the step after which the provider may have the message (SMTP's DATA) on
    #: channels that cannot be asked afterwards whether they have it; ``None``: never got that far.
    handed_at: Mapped[datetime | None] = mapped_column()
    provider_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


class Reply(Base):
    """An inbound message (SMS reply), kept once per provider message id, with what it did. Append-only."""

    __tablename__ = "replies"
    __table_args__ = (Index("ix_replies_alert_id", "alert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), unique=True)
    from_address: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    #: The message it answers (the newest one sent to that number), if any.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    recipient: Mapped[str | None] = mapped_column(String(50))
    #: ``api.messaging.replies.Outcome``: what the reply did (``confirmed``, ``withdrawn``, ``help``, ...).
    outcome: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(Base):
    """A phone number that answered STOP (``active``) and not START since: no SMS goes to it."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Checkin(Base):
    """A monthly check-in: every volunteer and household is asked to confirm their record."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
