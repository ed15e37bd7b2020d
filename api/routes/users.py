"""Accounts: volunteers sign up; coordinators create any account; everyone reads and edits their own profile."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import crud, listing, schemas
from api.access import require_role
from api.deps import Ctx, CurrentUser, IdPath, Limit, Offset, ServicesDep, SessionDep
from api.errors import Forbidden
from api.responses import errors
from api.schemas import Role

router = APIRouter(prefix="/users", tags=["users"])


@router.post("/signup", response_model=schemas.UserPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 403, 409))
def signup(services: ServicesDep, session: SessionDep, data: schemas.UserSignup) -> object:
    """Create a volunteer account (when open sign-up is on)."""
    if not services.settings.open_signup:
        raise Forbidden("sign-up is closed: ask a coordinator for an account")
    return crud.create_user(session, services.passwords, data, "volunteer", None)


@router.post("", response_model=schemas.UserPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403, 409))
def create_user(ctx: Ctx, services: ServicesDep, data: schemas.UserCreate) -> object:
    """Create an account of any role (coordinators only)."""
    require_role(ctx.user, "coordinator", action="create accounts")
    return crud.create_user(ctx.session, services.passwords, data, data.role, ctx.user)


@router.get("/me", response_model=schemas.UserPublic, responses=errors(401))
def me(user: CurrentUser) -> object:
    return user


@router.get("", response_model=list[schemas.UserPublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_users(ctx: Ctx, response: Response, role: Role | None = None, offset: Offset = 0, limit: Limit = 100
               ) -> object:
    return listing.answer(response, crud.list_users(ctx, role, offset, limit))


@router.get("/{user_id}", response_model=schemas.UserPublic, responses=errors(401, 404))
def get_user(ctx: Ctx, user_id: IdPath) -> object:
    return crud.get_user(ctx, user_id)


@router.patch("/{user_id}", response_model=schemas.UserPublic, responses=errors(400, 401, 403, 404, 409))
def update_user(ctx: Ctx, services: ServicesDep, user_id: IdPath, data: schemas.UserUpdate) -> object:
    return crud.update_user(ctx, services.passwords, user_id, data)
