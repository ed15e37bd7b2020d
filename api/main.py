"""The app factory: ``create_app(settings)`` wires routes, error handlers and the process's services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.config import Settings, get_settings
from api.errors import RowErrors, ServiceError
from api.routes import (
    alerts,
    audit,
    drills,
    households,
    jobs,
    live,
    login,
    pages,
    printable,
    rosters,
    shelters,
    users,
    vehicles,
)
from api.services import Services
from matcher.errors import InputError

log = logging.getLogger(__name__)


def _input_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    # The same shape as FastAPI's own validation errors, so clients read every 422 alike.
    item = {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error", "record": exc.record}
    return JSONResponse({"detail": [item]}, status_code=422)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI echoes the bad input back, which fails for NaN/Infinity (not JSON): keep where, what and why only.
    items = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return JSONResponse({"detail": items}, status_code=422)


def _row_errors(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RowErrors)
    items = [{"loc": ["file", e.row, e.field], "msg": e.message, "type": "csv_row", "row": e.row, "field": e.field}
             for e in exc.errors]
    return JSONResponse({"detail": items, "message": exc.message}, status_code=422)


def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)


def _stale(_request: Request, _exc: Exception) -> JSONResponse:
    message = "the record was changed by someone else since you read it: reload it and apply your change again"
    return JSONResponse({"detail": message}, status_code=409)


def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("integrity error: %s", exc)
    return JSONResponse({"detail": "the change conflicts with stored data (a duplicate or a missing reference)"},
                        status_code=409)


def _internal(_request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error", exc_info=exc)
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. Settings default to the environment; nothing is opened until the app starts."""
    settings = settings or get_settings()
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.start()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(
        title="Evacuation ride-share service",
        summary="Register volunteers' cars, households who need a ride and shelters; plan evacuations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RowErrors, _row_errors)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(Exception, _internal)
    for module in (login, users, vehicles, households, shelters, rosters, alerts, printable, live, jobs, drills, audit,
                   pages):
        app.include_router(module.router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness for load balancers (no sign-in, no database)."""
        return {"status": "ok"}

    return app
