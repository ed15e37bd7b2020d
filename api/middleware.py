"""ASGI middleware: request bodies bounded before they are read whole, and headers on every answer that keep
personal data out of caches and stop browsers from second-guessing content types."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Paths under which answers are public static assets: cacheable. Everything else may carry personal data.
CACHEABLE_PREFIXES = ("/app/static/",)
#: Routes taking a CSV upload (multipart form data): their limit is the CSV limit plus the form's own framing.
UPLOAD_SUFFIX = "/import"
FORM_OVERHEAD_BYTES = 64 * 1024


def _too_large(limit: int) -> tuple[int, bytes]:
    body = {"detail": f"the request body is larger than {limit} bytes, the most this route accepts"}
    return 413, json.dumps(body).encode()


class BodyLimit:
    """Refuse (413) a body whose ``Content-Length`` says it is too large before reading any of it, and stop one
    sent without a length (chunked) as soon as it passes the limit: no route ever holds more in memory."""

    def __init__(self, app: ASGIApp, json_max_bytes: int, upload_max_bytes: int) -> None:
        self.app, self.json_max, self.upload_max = app, json_max_bytes, upload_max_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_max if scope["path"].endswith(UPLOAD_SUFFIX) else self.json_max
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _answer(send, *_too_large(limit))
            return
        seen = 0
        over = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Cut the body here; whatever the route answers to the stub is replaced by the 413 below.
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if not over:
                await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if over:
            await _answer(send, *_too_large(limit))


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every answer; ``Cache-Control: no-store`` on every answer but the
    static assets, unless the route set its own (none that carries personal data does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if not cacheable and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
