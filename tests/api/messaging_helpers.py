"""Real servers on 127.0.0.1 for the messages tests: an SMTP server (aiosmtpd) and Twilio's Messages API
(``api.messaging.localsms``), plus signing of webhook requests the way Twilio signs them."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from api.config import Settings
from api.messaging.localsms import LocalSMS

PUBLIC = "https://evac.example.org"
SID, TOKEN, FROM = "ACtest", "test-auth-token", "+358500000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received."""

    mails: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.mails if m["To"] == address]


class SMTPServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


def messaging_settings(settings: Settings, sms: LocalSMS | None, smtp: SMTPServer | None, **extra: Any) -> Settings:
    values: dict[str, Any] = {"public_base_url": PUBLIC, "embedded_notifier": False, "sms_per_second": 0,
                              "email_per_second": 0, "twilio_auth_token": TOKEN, "twilio_account_sid": SID}
    if sms is not None:
        values.update(sms_provider="twilio", twilio_base_url=sms.base_url, twilio_from=FROM)
    if smtp is not None:
        values.update(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    values.update(extra)
    return Settings(**{**settings.model_dump(), **values})


def signed_post(client: TestClient, path: str, form: dict[str, str], token: str = TOKEN,
                signature: str | None = None) -> Any:
    """POST a form as Twilio would, signed with ``token`` over the public URL (or with ``signature`` as given)."""
    sig = RequestValidator(token).compute_signature(f"{PUBLIC}{path}", form) if signature is None else signature
    headers = {"X-Twilio-Signature": sig} if sig else {}
    return client.post(path, data=form, headers=headers)


def sms_reply(client: TestClient, sid: str, sender: str, body: str, **kwargs: Any) -> Any:
    form = {"MessageSid": sid, "From": sender, "To": FROM, "Body": body, "AccountSid": SID}
    return signed_post(client, "/webhooks/twilio/inbound", form, **kwargs)
