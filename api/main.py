"""The app factory: ``create_app(settings)`` wires routes, error handlers and the process's services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from api.config import Settings, get_settings
from api.errors import RowErrors, ServiceError
from api.limits import TooManyRequests
from api.middleware import BodyLimit, SecurityHeaders
from api.responses import ErrorMessage, errors
from api.routes import (
    alerts,
    apidocs,
    audit,
    drills,
    households,
    jobs,
    live,
    login,
    maps,
    messages,
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


def _too_many(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyRequests)
    return JSONResponse({"detail": exc.message}, status_code=429, headers={"Retry-After": str(exc.retry_after)})


def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    # Handled here (not by the catch-all below, which Starlette re-raises to the server, closing the client's
    # connection): the client gets a clear 503 and its next request on the same connection is served.
    log.error("database unreachable: %s", exc)
    return JSONResponse({"detail": "the database is unreachable for now: try again shortly"}, status_code=503,
                        headers={"Retry-After": "5"})


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
        # Served by api.routes.apidocs from local copies: FastAPI's own pages load Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RowErrors, _row_errors)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(TooManyRequests, _too_many)
    # OperationalError and InterfaceError: the server is down, refuses connections, or dropped them mid-request.
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)
    app.add_exception_handler(Exception, _internal)
    for module in (login, users, vehicles, households, shelters, rosters, alerts, printable, live, jobs, drills, audit,
                   messages, maps, apidocs, pages):
        app.include_router(module.router)

    app.add_middleware(BodyLimit, json_max_bytes=settings.json_max_bytes,
                       upload_max_bytes=settings.csv_max_bytes)
    app.add_middleware(SecurityHeaders)

    @app.get("/health", tags=["health"], response_model=Health,
             responses={503: {"model": Health, "description": "The database is unreachable"}})
    async def health() -> JSONResponse:
        """Health for load balancers (no sign-in): 200 when the database answers, 503 when it does not."""
        try:
            await run_in_threadpool(services.db.ping)
        except SQLAlchemyError as exc:
            log.error("health: database unreachable: %s", exc)
            return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    _document_common_errors(app)
    return app


class Health(BaseModel):
    status: str
    database: str


def _document_common_errors(app: FastAPI) -> None:
    """Said once for all routes: every route may answer 503 (database down); a route taking a body 400 (not
    readable) and 413 (too large); a route needing sign-in 401 and 403 (a temporary password not yet changed)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        common = errors(400, 401, 403, 413, 503)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                codes = [503, *([400, 413] if "requestBody" in operation else []),
                         *([401, 403] if operation.get("security") else [])]
                for code in codes:
                    responses.setdefault(str(code), {
                        "description": common[code]["description"],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}})
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "ErrorMessage", ErrorMessage.model_json_schema())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
