"""Accounts: volunteers sign up (pending until approved); coordinators create, approve, edit, deactivate and reset
any account and end its sessions; everyone reads and edits their own profile and changes their own password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from api import crud, listing, models, schemas
from api.access import require_role
from api.deps import (
    AnySignedIn,
    Ctx,
    IdPath,
    Limit,
    Offset,
    ServicesDep,
    TokenDep,
    client_address,
    current_user,
    token_user,
)
from api.errors import Forbidden
from api.limits import TooManyRequests
from api.responses import errors
from api.schemas import Approval, Role
from api.security import password_problem
from matcher.errors import InputError

router = APIRouter(prefix="/users", tags=["users"])


@router.post("/signup", response_model=schemas.SignupAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 403, 429, 503))
async def signup(request: Request, services: ServicesDep, data: schemas.UserSignup) -> schemas.SignupAccepted:
    """Ask for a volunteer account (when open sign-up is on). The answer is the same whether or not the e-mail
    has an account already; a new account may sign in at once but drives only once a coordinator approves it."""
    if not services.settings.open_signup:
        raise Forbidden("sign-up is closed: ask a coordinator for an account")
    services.limits.check(services.limits.signups, client_address(request), "sign-ups from your address")
    password_hash = await services.run_hashing(services.passwords.hash, data.password)
    await services.run_db(lambda s: crud.sign_up(s, data, password_hash))
    return schemas.SignupAccepted()


@router.post("", response_model=schemas.UserPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403, 409))
def create_user(ctx: Ctx, services: ServicesDep, data: schemas.UserCreate) -> object:
    """Create an account of any role (coordinators only), approved from the start."""
    require_role(ctx.user, "coordinator", action="create accounts")
    return crud.create_user(ctx.session, services.passwords, data, data.role, ctx.user)


@router.get("/me", response_model=schemas.UserPublic, responses=errors(401))
def me(user: AnySignedIn) -> object:
    """Your own account (also while it must change a temporary password)."""
    return user


@router.post("/me/password", response_model=schemas.Token, responses=errors(400, 401, 429, 503))
async def change_my_password(services: ServicesDep, token: TokenDep, data: schemas.PasswordChange) -> schemas.Token:
    """Change your password with your current one. Every session of yours ends (all devices); the answer is a
    new token for this one. Wrong current passwords count toward the account's sign-in lockout."""
    user = await services.run_db(lambda s: token_user(services, s, token))
    lockout = services.limits.login_account
    locked = lockout.locked_for(user.email)
    if locked is not None:
        raise TooManyRequests("too many failed sign-ins for this account", locked)
    if not await services.run_hashing(services.passwords.verify, user.password_hash, data.current_password):
        lockout.failed(user.email)
        # 422 naming the field, not 401: the session is fine, only the field is wrong.
        raise InputError("password", "current_password", "is not your current password")
    problem = password_problem(data.new_password, (user.email, *user.email.split("@"), user.name))
    if problem is not None or data.new_password == data.current_password:
        raise InputError("password", "new_password", problem or "must differ from the current password")
    new_hash = await services.run_hashing(services.passwords.hash, data.new_password)
    changed = await services.run_db(lambda s: crud.change_password(s, user.id, new_hash))
    return schemas.Token(access_token=services.tokens.issue(changed.id, changed.token_version))


@router.get("", response_model=list[schemas.UserPublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_users(ctx: Ctx, response: Response, role: Role | None = None, approval: Approval | None = None,
               offset: Offset = 0, limit: Limit = 100) -> object:
    """Accounts (coordinators only); ``approval=pending`` lists those waiting for approval."""
    return listing.answer(response, crud.list_users(ctx, role, offset, limit, approval))


@router.get("/{user_id}", response_model=schemas.UserPublic, responses=errors(401, 404))
def get_user(ctx: Ctx, user_id: IdPath) -> object:
    return crud.get_user(ctx, user_id)


@router.patch("/{user_id}", response_model=schemas.UserPublic, responses=errors(400, 401, 403, 404, 409))
def update_user(ctx: Ctx, user_id: IdPath, data: schemas.UserUpdate) -> object:
    """Edit a profile; coordinators also change roles and deactivate (which ends the account's sessions)."""
    return crud.update_user(ctx, user_id, data)


@router.post("/{user_id}/approve", response_model=schemas.UserPublic, responses=errors(401, 403, 404, 409))
def approve_user(ctx: Ctx, user_id: IdPath) -> object:
    """Approve a self-signed-up account (coordinators): its approved cars take part in plans from now on."""
    return crud.approve_user(ctx, user_id)


@router.post("/{user_id}/password", response_model=schemas.UserPublic,
             responses=errors(400, 401, 403, 404, 409))
async def reset_password(services: ServicesDep, token: TokenDep, user_id: IdPath,
                         data: schemas.PasswordReset) -> object:
    """Give an account a temporary password (coordinators): its sessions end, and at its next sign-in it may
    do nothing but choose a new password."""
    actor = await current_user(await services.run_db(lambda s: token_user(services, s, token)))
    require_role(actor, "coordinator", action="reset passwords")
    temporary_hash = await services.run_hashing(services.passwords.hash, data.temporary_password)

    def reset(session: Session) -> models.User:
        ctx = crud.Context(session=session, user=session.get_one(models.User, actor.id), settings=services.settings,
                           geocoder=services.geocoder)
        return crud.reset_password(ctx, user_id, temporary_hash)

    return await services.run_db(reset)


@router.post("/{user_id}/sign-out", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             responses=errors(401, 403, 404, 409))
def end_sessions(ctx: Ctx, user_id: IdPath) -> Response:
    """End every session of an account (coordinators): each token issued to it before now is refused."""
    crud.end_user_sessions(ctx, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
