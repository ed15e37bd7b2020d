"""Request dependencies: the process's services, a database session, the signed-in user, the operation context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from api import models
from api.crud import Context
from api.errors import Unauthorized
from api.services import Services

oauth2 = OAuth2PasswordBearer(tokenUrl="/login/access-token")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    services.start()  # a no-op once the lifespan has started them; covers clients that skip the lifespan
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    # Operations commit themselves; whatever is left uncommitted (an error) is rolled back on close.
    with services.db.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
TokenDep = Annotated[str, Depends(oauth2)]


def current_user(services: ServicesDep, session: SessionDep, token: TokenDep) -> models.User:
    user_id = services.tokens.user_id(token)
    user = None if user_id is None else session.get(models.User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("not signed in: the token is invalid or expired, or the account is deactivated")
    return user


CurrentUser = Annotated[models.User, Depends(current_user)]


def get_context(services: ServicesDep, session: SessionDep, user: CurrentUser) -> Context:
    return Context(session=session, user=user, settings=services.settings, geocoder=services.geocoder)


Ctx = Annotated[Context, Depends(get_context)]

#: Database ids in paths and queries: bounded so no backend ever sees an integer it cannot store.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
VersionQuery = Annotated[int, Query(ge=1, le=2**31 - 1, description="The version you read; a stale one gives 409")]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
