"""Sign-in (the OAuth2 password flow, answering with an expiring bearer token) and sign-out.

Sign-in is rate-limited per address and locked out per account and per address after failed attempts
(``api.limits``); the password is checked outside the database slots, and an unknown e-mail is checked against a
dummy hash, so neither time nor answer tells whether an account exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import crud, models, schemas
from api.deps import AnySignedIn, ServicesDep, SessionDep, client_address
from api.errors import Unauthorized
from api.limits import TooManyRequests
from api.responses import errors

router = APIRouter(tags=["login"])


@dataclass(frozen=True)
class _Account:
    id: int
    password_hash: str
    is_active: bool
    token_version: int


def _find(session: Session, email: str) -> _Account | None:
    # No account has a NUL in its e-mail, and PostgreSQL would refuse one in a query (a 500): no such user.
    if "\x00" in email:
        return None
    user = session.scalar(select(models.User).where(models.User.email == email))
    return None if user is None else _Account(user.id, user.password_hash, user.is_active, user.token_version)


def _rehash(session: Session, user_id: int, new_hash: str) -> None:
    session.execute(update(models.User).where(models.User.id == user_id).values(password_hash=new_hash))


@router.post("/login/access-token", response_model=schemas.Token, responses=errors(400, 401, 429, 503))
async def login(request: Request, services: ServicesDep,
                form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> schemas.Token:
    """Exchange e-mail (as ``username``) and password for a bearer token."""
    email, address = form.username.strip().lower()[:254], client_address(request)
    limits = services.limits
    for lockout, key, who in ((limits.login_account, email, "this account"), (limits.login_address, address,
                                                                               "your address")):
        locked = lockout.locked_for(key)
        if locked is not None:
            raise TooManyRequests(f"too many failed sign-ins for {who}", locked)
    limits.check(limits.login_attempts, address, "sign-in attempts from your address")
    account = await services.run_db(lambda s: _find(s, email))
    right = await services.run_hashing(services.passwords.verify,
                                       None if account is None else account.password_hash, form.password[:1024])
    if account is None or not right or not account.is_active:
        limits.login_account.failed(email)
        limits.login_address.failed(address)
        raise Unauthorized("wrong e-mail or password, or the account is deactivated")
    limits.login_account.succeeded(email)
    if services.passwords.needs_rehash(account.password_hash):  # cost raised since: upgrade the stored hash now
        new_hash = await services.run_hashing(services.passwords.hash, form.password)
        await services.run_db(lambda s: _rehash(s, account.id, new_hash))
    return schemas.Token(access_token=services.tokens.issue(account.id, account.token_version))


@router.post("/login/sign-out", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             responses=errors(401, 503))
def sign_out(session: SessionDep, user: AnySignedIn) -> Response:
    """End every session of your account (all devices): each token issued to it before now is refused."""
    crud.end_sessions(session, user, user, "sign_out")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
