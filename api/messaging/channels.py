"""Channels: one small interface (``send``, ``find_sent``) over Twilio's Messages API, SMTP and a log file.

A channel raises ``TemporaryFailure`` for what a retry may fix (network, 5xx, 429) and ``PermanentFailure`` for
what it never will (an invalid number, a refused address). Credentials are held as secrets and never put in an
exception text, a log line or a page.
"""

from __future__ import annotations

import json
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import httpx

from api.config import Settings


class ChannelError(Exception):
    """A send did not go through."""


class TemporaryFailure(ChannelError):
    """Worth retrying later (network, provider overloaded)."""


class PermanentFailure(ChannelError):
    """Never worth retrying (invalid number or address, refused by the provider)."""


class OutcomeUnknown(ChannelError):
    """The connection broke after the provider may have accepted the message: sending it again could repeat it."""


class ClaimLost(Exception):
    """The sender no longer holds the message (another took it over): it must not be handed over."""


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Outgoing:
    """What a channel needs of an outbox row."""

    id: int
    to: str
    body: str
    subject: str
    #: When the row was first claimed: a provider lookup after a crash searches from there.
    claimed_at: datetime


class Channel(Protocol):
    """Sends one message; the provider's id for it, or raises ``ChannelError``."""

    name: str
    #: Whether ``find_sent`` can tell, after a crash, if the provider has a message. A channel that cannot calls
    #: ``handing`` just before its point of no return, so a crash before it is known to have sent nothing.
    can_look_up: bool

    def send(self, message: Outgoing, handing: Callable[[], None] = _nothing) -> str: ...

    def find_sent(self, message: Outgoing) -> str | None:
        """After a crash between a send and its record: the provider's id if the provider has the message."""
        ...


def reference(message_id: int) -> str:
    """The short reference ending every SMS body: it makes each body unique, so a crashed send can be found at
    the provider, and lets a person quote it."""
    return f"[#{message_id}]"


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class TwilioSMS:
    """SMS through Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``), basic auth."""

    name = "sms"
    #: Every body ends in the row's reference, so the Messages list finds a message sent before a crash.
    can_look_up = True

    def __init__(self, settings: Settings) -> None:
        self.sid = settings.twilio_account_sid
        self.sender = settings.twilio_from
        self.root = f"{settings.twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{self.sid}"
        self.callback = (f"{settings.public_base_url.rstrip('/')}/webhooks/twilio/status"
                         if settings.public_base_url else "")
        self.client = httpx.Client(auth=(self.sid, settings.twilio_auth_token.get_secret_value()),
                                   timeout=settings.provider_timeout_seconds)
        # Parsed once: building each request is most of a send's CPU, and the URL never changes.
        self.messages_url = httpx.URL(f"{self.root}/Messages.json")

    def _body(self, message: Outgoing) -> str:
        return f"{message.body} {reference(message.id)}"

    def send(self, message: Outgoing, handing: Callable[[], None] = _nothing) -> str:
        del handing  # a crashed send is looked up at the provider instead (``find_sent``)
        data = {"To": message.to, "Body": self._body(message)}
        data["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        if self.callback:
            data["StatusCallback"] = self.callback
        try:
            response = self.client.post(self.messages_url, content=urlencode(data), headers=FORM)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"SMS provider unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"SMS provider answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentFailure(f"SMS provider refused the message ({response.status_code}: "
                                   f"{_provider_message(response)})")
        sid = response.json().get("sid")
        if not sid:
            raise TemporaryFailure("SMS provider answered without a message id")
        return str(sid)

    def find_sent(self, message: Outgoing) -> str | None:
        since = (message.claimed_at - timedelta(days=1)).date().isoformat()
        try:
            response = self.client.get(f"{self.root}/Messages.json",
                                       params={"To": message.to, "DateSent>": since, "PageSize": 100})
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"SMS provider unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise TemporaryFailure(f"SMS provider answered {response.status_code} to a lookup")
        body = self._body(message)
        for item in response.json().get("messages", []):
            if item.get("body") == body:
                return str(item["sid"])
        return None

    def close(self) -> None:
        self.client.close()


def _provider_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except ValueError:
        return ""


class SMTPEmail:
    """E-mail over SMTP (STARTTLS when set), with a Message-ID fixed per outbox row.

    SMTP cannot be asked afterwards whether a message went, so the sender is told (``handing``) just before DATA:
    a crash before it left nothing at the server (a transaction without DATA is dropped); a crash after it may
    have sent, and the row is marked ``unknown`` rather than sent again (``api.messaging.sender``).
    """

    name = "email"
    can_look_up = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def message_id(self, message: Outgoing) -> str:
        domain = self.settings.smtp_from.rsplit("@", 1)[-1] or "localhost"
        return f"<evac-message-{message.id}@{domain}>"

    def _mail(self, message: Outgoing) -> bytes:
        s = self.settings
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = s.smtp_from, message.to, message.subject
        mail["Message-ID"], mail["Date"] = self.message_id(message), formatdate(localtime=False)
        # Quoted-printable keeps the message 7-bit, so no server extension (8BITMIME) is needed for "ä" or "í".
        mail.set_content(message.body, cte="quoted-printable")
        return mail.as_bytes(policy=SMTP_POLICY)

    def send(self, message: Outgoing, handing: Callable[[], None] = _nothing) -> str:
        s = self.settings
        data = self._mail(message)
        handed = False
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.provider_timeout_seconds) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.ehlo_or_helo_if_needed()
                _expect(smtp.mail(s.smtp_from), (250,), "the sender address")
                _expect(smtp.rcpt(message.to), (250, 251), "the address")
                handing()  # from here on the server may have it
                handed = True
                _expect(smtp.data(data), (250,), "the message")
        except (smtplib.SMTPException, OSError) as exc:
            if handed:
                raise OutcomeUnknown(f"mail server: {type(exc).__name__} during DATA") from None
            raise TemporaryFailure(f"mail server: {type(exc).__name__}") from None
        return self.message_id(message)

    def find_sent(self, message: Outgoing) -> str | None:
        return None  # SMTP cannot be asked: see ``handing`` above


def _expect(answer: tuple[int, bytes], codes: tuple[int, ...], what: str) -> None:
    code = answer[0]
    if code in codes:
        return
    if 500 <= code < 600:
        raise PermanentFailure(f"the mail server refused {what} ({code})")
    raise TemporaryFailure(f"the mail server answered {code} for {what}")


class LogChannel:
    """Writes each message as a JSON line to a file: drills and demos read what would have been sent."""

    can_look_up = True

    def __init__(self, path: Path, name: str = "sms") -> None:
        self.path, self.name = path, name
        self._lock = threading.Lock()

    def send(self, message: Outgoing, handing: Callable[[], None] = _nothing) -> str:
        del handing  # the file is read back after a crash (``find_sent``)
        line = json.dumps({"id": message.id, "to": message.to, "body": message.body, "channel": self.name,
                           "at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return f"log-{message.id}"

    def find_sent(self, message: Outgoing) -> str | None:
        if not self.path.exists():
            return None
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                if json.loads(line).get("id") == message.id:
                    return f"log-{message.id}"
        return None


def available(settings: Settings) -> frozenset[str]:
    """The channels this deployment can send on (nothing is opened to say so)."""
    out = {"sms"} if settings.sms_provider == "twilio" and settings.twilio_account_sid else set()
    if settings.smtp_host:
        out.add("email")
    if settings.message_log is not None:
        out |= {"sms", "email", "log"}
    return frozenset(out)


def configured(settings: Settings) -> dict[str, Channel]:
    """The channels this deployment can send on; a channel left out keeps its messages queued."""
    out: dict[str, Channel] = {}
    if settings.sms_provider == "twilio" and settings.twilio_account_sid:
        out["sms"] = TwilioSMS(settings)
    elif settings.message_log is not None:
        out["sms"] = LogChannel(settings.message_log, "sms")
    if settings.smtp_host:
        out["email"] = SMTPEmail(settings)
    elif settings.message_log is not None:
        out["email"] = LogChannel(settings.message_log, "email")
    if settings.message_log is not None:
        out["log"] = LogChannel(settings.message_log, "log")
    return out


def not_sent_reason(channel: str, settings: Settings) -> str | None:
    """Why messages on ``channel`` are not being sent, in words for the dashboard; ``None`` when they are."""
    if channel in available(settings):
        return None
    return {"sms": "not sent: no SMS provider set up", "email": "not sent: no mail server set up"}.get(
        channel, "not sent: no log file set up")
