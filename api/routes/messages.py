"""Messages: an alert's outbox and replies (coordinators), Twilio's signed webhooks, check-ins, live changes.

Webhooks take no sign-in: Twilio signs each request with the account's auth token (``X-Twilio-Signature``), and an
unsigned or wrongly signed request is answered 403 before anything is read or written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi import Path as FastPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import update
from twilio.request_validator import RequestValidator

from api import alerts, models
from api.deps import Ctx, IdPath, Limit, Offset, ServicesDep, TokenDep, token_user
from api.errors import Forbidden, NotFound
from api.messaging import replies, service
from api.messaging import schemas as ms
from api.responses import errors
from api.services import Services

log = logging.getLogger(__name__)

router = APIRouter(tags=["messages"])

#: Twilio's delivery statuses that we record; the others (queued, sending, sent) add nothing to ``sent``.
RECEIPTS = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
TWIML_OK = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
DriverId = Annotated[str, FastPath(pattern=r"^V[0-9]{1,9}$", description="A plan driver id: V<vehicle id>")]
StatusQuery = Annotated[ms.MessageStatus | None, Query(description="Only messages with this status")]


@router.get("/alerts/{alert_id}/messages", response_model=ms.AlertMessages, responses=errors(401, 403, 404))
def alert_messages(ctx: Ctx, alert_id: IdPath, status: StatusQuery = None, offset: Offset = 0,
                   limit: Limit = 1000) -> object:
    """What the alert sent to whom, newest first, with each message's status (coordinators)."""
    return service.alert_messages(ctx, alert_id, status, offset, limit)


@router.post("/messages/{message_id}/resend", response_model=ms.MessagePublic, responses=errors(401, 403, 404, 409))
def resend(ctx: Ctx, message_id: IdPath) -> object:
    """Queue again a message whose outcome is ``unknown`` (its sender lost touch while handing it to the mail
    server): for when the person says they did not get it (coordinators; audited)."""
    return service.resend(ctx, message_id)


@router.get("/alerts/{alert_id}/replies", response_model=list[ms.ReplyPublic], responses=errors(401, 403, 404))
def alert_replies(ctx: Ctx, alert_id: IdPath, offset: Offset = 0, limit: Limit = 1000) -> object:
    """Replies to the alert's messages and what each did (confirmed, withdrawn, help, ...) (coordinators)."""
    return service.alert_replies(ctx, alert_id, offset, limit)


@router.get("/alerts/{alert_id}/live", response_model=ms.LiveChange, responses=errors(401, 404))
def live_change(ctx: Ctx, alert_id: IdPath) -> object:
    """The newest plan version and last stop report (what a page polls when it cannot keep a stream open)."""
    alert = alerts.get_alert(ctx, alert_id)
    return service.live_change(ctx.session, alert.id)


@router.get("/alerts/{alert_id}/events", response_class=StreamingResponse, responses={
    **errors(401, 403, 404), 200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}})
async def alert_events(services: ServicesDep, token: TokenDep, alert_id: IdPath) -> StreamingResponse:
    """Server-sent events: a ``change`` event (``LiveChange`` JSON) whenever the alert gets a new plan version or
    stop report. The stream ends after ``EVAC_STREAM_SECONDS``; clients reconnect."""
    # Its own short sessions, not the request's: a request's session (and its database slot) lives until the
    # response ends, which for a stream would be its whole length.
    first = await run_in_threadpool(_open_stream, services, token, alert_id)
    return StreamingResponse(_changes(services, alert_id, first), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _open_stream(services: Services, token: str, alert_id: int) -> ms.LiveChange:
    with services.db.sessions() as session:
        user = token_user(services, session, token)
        if user.must_change_password:
            raise Forbidden("your password is a temporary one: change it first (POST /users/me/password)")
        if session.get(models.Alert, alert_id) is None:
            raise NotFound("alert", alert_id)
        return service.live_change(session, alert_id)


def _current(services: Services, alert_id: int) -> ms.LiveChange:
    with services.db.sessions() as session:
        return service.live_change(session, alert_id)


async def _changes(services: Services, alert_id: int, first: ms.LiveChange) -> AsyncIterator[str]:
    settings = services.settings
    last = first
    yield f"event: change\ndata: {first.model_dump_json()}\n\n"
    loop = asyncio.get_running_loop()
    end = loop.time() + settings.stream_seconds
    while loop.time() < end:
        await asyncio.sleep(min(settings.stream_poll_seconds, max(0.0, end - loop.time())))
        now = await run_in_threadpool(_current, services, alert_id)
        if now != last:
            last = now
            yield f"event: change\ndata: {now.model_dump_json()}\n\n"
        else:
            yield ": still here\n\n"  # keeps proxies from closing an idle stream


# --- Twilio webhooks ------------------------------------------------------------------------------------------


async def _signed_form(request: Request, services: Services) -> dict[str, str]:
    """The form Twilio posted, once its signature checks out; 403 otherwise (nothing else is looked at)."""
    settings = services.settings
    token = settings.twilio_auth_token.get_secret_value()
    signature = request.headers.get("X-Twilio-Signature", "")
    form = await request.form()
    params = {k: str(v) for k, v in form.multi_items()}
    base = settings.public_base_url.rstrip("/")
    url = f"{base}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "") if base else str(
        request.url)
    if not token or not signature or not RequestValidator(token).validate(url, params, signature):
        log.warning("webhook %s refused: %s", request.url.path, "no signature" if not signature else "bad signature")
        raise Forbidden("the request is not signed by the SMS provider")
    return params


@router.post("/webhooks/twilio/inbound", response_class=Response, responses={
    **errors(403), 200: {"content": {"text/xml": {}}, "description": "TwiML: no automatic answer"}})
async def inbound_sms(request: Request, services: ServicesDep) -> Response:
    """An SMS reply (Twilio's incoming-message webhook, signed). The answer is empty TwiML: any answer to the
    person goes through the outbox, so it is rate-limited and audited like every message."""
    form = await _signed_form(request, services)
    sid, sender, body = form.get("MessageSid", ""), form.get("From", ""), form.get("Body", "")
    if sid and sender:
        outcome = await run_in_threadpool(_handle_reply, services, sid, sender, body)
        log.info("reply %s: %s", sid, outcome)
        services.wake_sender()
    return Response(TWIML_OK, media_type="text/xml")


def _handle_reply(services: Services, sid: str, sender: str, body: str) -> str:
    with services.db.session() as session:
        return replies.handle(session, services.settings, sid, sender, body).value


@router.post("/webhooks/twilio/status", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403))
async def delivery_status(request: Request, services: ServicesDep) -> Response:
    """A delivery receipt (Twilio's status callback, signed): ``delivered``, or ``failed`` with its code."""
    form = await _signed_form(request, services)
    sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if sid and state in RECEIPTS:
        await run_in_threadpool(_receipt, services, sid, RECEIPTS[state], form.get("ErrorCode", ""))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _receipt(services: Services, sid: str, state: str, code: str) -> None:
    values: dict[str, object] = {"status": state}
    if state == "delivered":
        values["delivered_at"] = models.utcnow()
    else:
        values["error"] = f"the provider could not deliver it (error {code or 'unknown'})"
    with services.db.session() as session:
        # A reply may have come first: "replied" says more than "delivered" and stays.
        session.execute(update(models.Message).where(
            models.Message.provider_id == sid, models.Message.status.in_(("sent", "delivered", "sending"))
        ).values(**values))


# --- check-ins ------------------------------------------------------------------------------------------------


@router.post("/checkins", response_model=ms.CheckinPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403))
def start_checkin(ctx: Ctx, services: ServicesDep, data: ms.CheckinCreate) -> object:
    """Start a monthly check-in: every volunteer with a car and every household with a phone is asked to
    confirm their record (coordinators)."""
    out = service.start_checkin(ctx, data)
    services.wake_sender()
    return out


@router.get("/checkins", response_model=list[ms.CheckinPublic], responses=errors(401, 403))
def list_checkins(ctx: Ctx) -> object:
    """The last 100 check-ins (coordinators)."""
    return service.list_checkins(ctx)


@router.get("/checkins/{checkin_id}/teams/{driver_id}/contacts", response_class=Response, responses={
    **errors(401, 404), 200: {"content": {"text/csv": {}}, "description": "The team's contact list"}})
def team_contacts(ctx: Ctx, checkin_id: IdPath, driver_id: DriverId) -> Response:
    """A driver's team after a check-in, dated: the households their car picks up in the newest plan, with phones
    (coordinators, or the car's owner; audited)."""
    name, body = service.team_contacts(ctx, checkin_id, driver_id)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/checkins/answers", response_model=list[ms.StaleRecord], responses=errors(400, 401, 404))
def checkin_answer(ctx: Ctx, data: ms.CheckinAnswer) -> object:
    """Confirm records (or flag them changed): your cars, households you registered; coordinators any."""
    return service.answer(ctx, data)


@router.get("/checkins/stale", response_model=list[ms.StaleRecord], responses=errors(401))
def stale_records(ctx: Ctx, days: Annotated[int | None, Query(ge=1, le=3650)] = None,
                  kind: Literal["household", "vehicle"] | None = None, offset: Offset = 0,
                  limit: Limit = 1000) -> object:
    """Records not confirmed within ``days`` (default ``EVAC_CHECKIN_STALE_DAYS``) or flagged changed: all for
    coordinators, your own for registrars and volunteers."""
    return service.stale(ctx, days, kind, offset, limit)



