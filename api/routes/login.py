"""Sign-in: the OAuth2 password flow, answering with an expiring bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api import crud, schemas
from api.deps import ServicesDep, SessionDep
from api.errors import Unauthorized
from api.responses import errors

router = APIRouter(tags=["login"])


@router.post("/login/access-token", response_model=schemas.Token, responses=errors(400, 401))
def login(services: ServicesDep, session: SessionDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> schemas.Token:
    """Exchange e-mail (as ``username``) and password for a bearer token."""
    user = crud.authenticate(session, services.passwords, form.username, form.password)
    if user is None or not user.is_active:
        raise Unauthorized("wrong e-mail or password, or the account is deactivated")
    return schemas.Token(access_token=services.tokens.issue(user.id))
