"""A local server speaking the part of Twilio's Messages API the sender uses, for tests, drills, demos and the
benchmark: ``POST`` and ``GET /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth, on 127.0.0.1.

It keeps every message it accepted (``received``) so a test can read exactly what was handed over, can fail the
next requests (``fail_next``) and can hold requests after accepting them (``hold_from``: the message is stored, the
answer never comes until ``release()``), which is the window a sender killed mid-send leaves behind.

``python -m api.messaging.localsms --port 8025`` runs one until Ctrl-C, printing each message.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Sms:
    sid: str
    to: str
    sender: str
    body: str
    at: datetime
    status_callback: str = ""


@dataclass
class State:
    account_sid: str
    auth_token: str
    received: list[Sms] = field(default_factory=list)
    fail_next: int = 0
    hold_from: int | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    echo: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, as Twilio's API does: a sender reuses its connections instead of opening one per message.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _authorised(self) -> bool:
        state = self.server.state
        expected = base64.b64encode(f"{state.account_sid}:{state.auth_token}".encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    def _answer(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _path_ok(self) -> bool:
        path = urlparse(self.path).path
        return path == f"/2010-04-01/Accounts/{self.server.state.account_sid}/Messages.json"

    def do_POST(self) -> None:
        state = self.server.state
        if not self._path_ok():
            self._answer(404, {"code": 20404, "message": "not found"})
            return
        if not self._authorised():
            self._answer(401, {"code": 20003, "message": "authenticate"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        with state.lock:
            if state.fail_next > 0:
                state.fail_next -= 1
                fail = True
            else:
                fail = False
                to = form.get("To", "")
                if not to.startswith("+"):
                    self._answer(400, {"code": 21211, "message": f"The 'To' number {to} is not a valid phone number"})
                    return
                sms = Sms(f"SM{uuid.uuid4().hex}", to, form.get("From", form.get("MessagingServiceSid", "")),
                          form.get("Body", ""), datetime.now(UTC), form.get("StatusCallback", ""))
                state.received.append(sms)
                hold = state.hold_from is not None and len(state.received) >= state.hold_from
        if fail:
            self._answer(503, {"code": 20503, "message": "service unavailable"})
            return
        if state.echo:
            print(f"SMS {sms.sid} to {sms.to}: {sms.body}", flush=True)  # noqa: T201 - the command's output
        if hold:
            state.gate.wait()
        self._answer(201, {"sid": sms.sid, "status": "queued", "to": sms.to, "body": sms.body,
                           "date_created": sms.at.strftime("%a, %d %b %Y %H:%M:%S +0000")})

    def do_GET(self) -> None:
        state = self.server.state
        if not self._path_ok():
            self._answer(404, {"code": 20404, "message": "not found"})
            return
        if not self._authorised():
            self._answer(401, {"code": 20003, "message": "authenticate"})
            return
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        since = query.get("DateSent>", "")
        with state.lock:
            found = [s for s in state.received if ("To" not in query or s.to == query["To"])
                     and (not since or s.at.date().isoformat() >= since)]
        self._answer(200, {"messages": [{"sid": s.sid, "to": s.to, "body": s.body, "status": "sent"}
                                        for s in found]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state


class LocalSMS:
    """A running server; ``base_url`` is what ``EVAC_TWILIO_BASE_URL`` is set to."""

    def __init__(self, account_sid: str = "ACtest", auth_token: str = "test-auth-token", port: int = 0) -> None:
        self.state = State(account_sid, auth_token)
        self.server = _Server(self.state, port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="local-sms", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> LocalSMS:
        self.thread.start()
        return self

    @property
    def received(self) -> list[Sms]:
        with self.state.lock:
            return list(self.state.received)

    def release(self) -> None:
        self.state.hold_from = None
        self.state.gate.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalSMS:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--account-sid", default="ACtest")
    parser.add_argument("--auth-token", default="test-auth-token")
    args = parser.parse_args()
    server = LocalSMS(args.account_sid, args.auth_token, args.port)
    server.state.echo = True
    print(f"local SMS API on {server.base_url} (account {args.account_sid})", flush=True)  # noqa: T201
    with contextlib.suppress(KeyboardInterrupt):
        server.server.serve_forever()


if __name__ == "__main__":
    main()
