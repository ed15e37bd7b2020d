"""Request dependencies: the process's services, a database session, the signed-in user, the operation context."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from api import models
from api.crud import Context
from api.errors import Forbidden, Unauthorized
from api.geocode import CappedGeocoder, Geocoder, LocalGeocoder, presolve, resolve_position
from api.schemas import Positioned, Strict
from api.services import Services

oauth2 = OAuth2PasswordBearer(tokenUrl="/login/access-token")
PositionedT = TypeVar("PositionedT", bound=Positioned)
ChangesT = TypeVar("ChangesT", bound=Strict)


async def get_services(request: Request) -> Services:
    # Dependencies that do no I/O are ``async``: each sync one costs a trip to a worker thread on every request.
    services: Services = request.app.state.services
    if not services.started:  # started by the lifespan; this covers clients that skip it (blocking: on a thread)
        await run_in_threadpool(services.start)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[Session]:
    # Operations commit themselves; whatever is left uncommitted (an error) is rolled back on close.
    # Sync routes and dependencies run on a limited set of worker threads, and a request keeps its connection from
    # one to the next. Were more requests to want connections than the pool has, threads waiting for the pool could
    # take every worker thread while the requests holding the connections wait for a thread to finish: a deadlock
    # (FastAPI issue 3205; it froze the server under 200 concurrent clients). So requests wait here, on the event
    # loop and holding no thread, until the pool surely has a connection for them.
    async with services.db_gate():
        session = services.db.sessions()
        try:
            yield session
        finally:
            if session.in_transaction():  # rolled back on close: database I/O, so on a worker thread
                await run_in_threadpool(session.close)
            else:  # committed already (every change does): closing holds no connection and does no I/O
                session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def client_address(request: Request) -> str:
    """The address a request came from (the proxy's, behind one: run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so it is the client's), the key of the per-address limits."""
    return request.client.host if request.client is not None else "unknown"
TokenDep = Annotated[str, Depends(oauth2)]


def signed_in_user(services: ServicesDep, session: SessionDep, token: TokenDep) -> models.User:
    """The token's account, whatever it may do: a valid signature, unexpired, naming an active account, and
    issued at the account's current token version (sign-out, a password change or deactivation bumps it)."""
    return token_user(services, session, token)


def token_user(services: Services, session: Session, token: str) -> models.User:
    """``signed_in_user`` for routes that take their own session (to hash passwords outside the slots)."""
    claims = services.tokens.claims(token)
    user = None if claims is None else session.get(models.User, claims.user_id)
    if user is None or claims is None or not user.is_active or user.token_version != claims.token_version:
        raise Unauthorized("not signed in: the token is invalid, expired or ended (signed out, password changed), "
                           "or the account is deactivated")
    return user


AnySignedIn = Annotated[models.User, Depends(signed_in_user)]


async def current_user(user: AnySignedIn) -> models.User:
    """The signed-in account, once it has replaced a temporary password a coordinator gave it."""
    if user.must_change_password:
        raise Forbidden("your password is a temporary one: change it first (POST /users/me/password)")
    return user


CurrentUser = Annotated[models.User, Depends(current_user)]


def geocoded(model: type[PositionedT], record: str) -> Any:
    """The request body with its address geocoded *before* any database slot is taken (``Depends`` of it, listed
    before ``Ctx`` in a route). A geocoder may take seconds (``geocoder_timeout_seconds``); waiting for it while
    holding one of the few slots stalled everyone (four address imports, 90 s). Only a signed token gets this far:
    strangers cannot make the service call the geocoder."""

    async def resolve(services: Any, token: Any, data: Any) -> Any:
        if data.lat is None and data.lon is None and data.address and services.tokens.claims(token) is not None:
            lat, lon = await run_in_threadpool(resolve_position, services.geocoder, record, data.address, None, None)
            return data.model_copy(update={"lat": lat, "lon": lon})
        return data

    resolve.__annotations__ = {"services": ServicesDep, "token": TokenDep, "data": model, "return": model}
    return Depends(resolve)


@dataclass(frozen=True)
class Relocated(Generic[ChangesT]):
    """A PATCH body, with its new address already looked up when the geocoder is online (``None`` otherwise)."""

    data: ChangesT
    geocoder: Geocoder | None

    def context(self, ctx: Context) -> Context:
        """``ctx`` answering this body's address from the look-up made before the slot was taken."""
        return ctx if self.geocoder is None else dataclasses.replace(ctx, geocoder=self.geocoder)


def relocated(model: type[ChangesT]) -> Any:
    """``geocoded`` for a PATCH: whether a new address moves the record is known only once the record is read
    (inside the slot), so the address is looked up before, and used there only if it changed."""

    async def resolve(services: Any, token: Any, data: Any) -> Any:
        address = getattr(data, "address", None)
        online = not isinstance(services.geocoder, LocalGeocoder)
        if (address and online and getattr(data, "lat", None) is None and getattr(data, "lon", None) is None
                and services.tokens.claims(token) is not None):
            return Relocated(data, await run_in_threadpool(presolve, services.geocoder, [address], 1))
        return Relocated(data, None)

    resolve.__annotations__ = {"services": ServicesDep, "token": TokenDep, "data": model, "return": Relocated}
    return Depends(resolve)


async def get_context(services: ServicesDep, session: SessionDep, user: CurrentUser) -> Context:
    geocoder: Geocoder = services.geocoder
    if not isinstance(geocoder, LocalGeocoder):  # the map's own index answers in microseconds: no cap needed
        geocoder = CappedGeocoder(geocoder, services.settings.geocode_max_per_request)
    return Context(session=session, user=user, settings=services.settings, geocoder=geocoder)


Ctx = Annotated[Context, Depends(get_context)]

#: Database ids in paths and queries: bounded so no backend ever sees an integer it cannot store.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
VersionQuery = Annotated[int, Query(ge=1, le=2**31 - 1, description="The version you read; a stale one gives 409")]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
