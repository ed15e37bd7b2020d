"""Pydantic models of the messages API (outbox rows, replies, check-ins, live changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

#: A database id (bounded so no backend sees an integer it cannot store).
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]

MessageStatus = Literal["queued", "sending", "sent", "delivered", "failed", "replied", "cancelled", "unknown"]


class MessagePublic(BaseModel):
    """One message as coordinators see it: to whom (masked number), what, and how far it got."""

    id: int
    alert_id: int | None
    checkin_id: int | None
    recipient: str
    channel: Literal["sms", "email", "log"]
    to: str
    template: str
    language: str
    body: str
    status: MessageStatus
    attempts: int
    #: Why it is not moving (``not sent: no SMS provider set up``), or the last error.
    note: str | None
    created_at: datetime
    send_after: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessageSummary(BaseModel):
    """Counts per status, and what blocks the queued ones."""

    counts: dict[str, int]
    blocked: list[str]


class AlertMessages(BaseModel):
    summary: MessageSummary
    messages: list[MessagePublic]


class ReplyPublic(BaseModel):
    id: int
    alert_id: int | None
    message_id: int | None
    recipient: str | None
    outcome: str
    body: str
    received_at: datetime


class CheckinCreate(BaseModel):
    note: str = Field(default="", max_length=1000)


class CheckinPublic(BaseModel):
    id: int
    started_by: int | None
    started_at: datetime
    note: str
    messages: int


class CheckinAnswer(BaseModel):
    """A registrar's, owner's or coordinator's answer for records they may change."""

    household_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    vehicle_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    changed: bool = False


class StaleRecord(BaseModel):
    kind: Literal["household", "vehicle"]
    id: int
    label: str
    owner_id: int
    confirmed_at: datetime | None
    changed_at: datetime | None


class LiveChange(BaseModel):
    """What a page watches: the newest plan version and the last stop report of an alert (no personal data)."""

    alert_id: int
    version: int
    status_at: datetime | None
    status: str
