"""The OpenAPI documentation page (``/docs``) with Swagger UI served from this service, and the favicon.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, which is blank offline; these routes serve the copies in
``api/web/apidocs`` (npm ``swagger-ui-dist``, Apache 2.0) instead. Public, like the OpenAPI schema itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from api.errors import NotFound

ASSETS = Path(__file__).resolve().parent.parent / "web" / "apidocs"
FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
FAVICON = "/app/static/favicon.svg"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} · API",
                               swagger_js_url="/apidocs/swagger-ui-bundle.js",
                               swagger_css_url="/apidocs/swagger-ui.css", swagger_favicon_url=FAVICON,
                               oauth2_redirect_url="/docs/oauth2-redirect",
                               # No badge from the public validator: nothing may be fetched from elsewhere.
                               swagger_ui_parameters={"validatorUrl": None})


@router.get("/docs/oauth2-redirect")
def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/apidocs/{name}")
def asset(name: str) -> FileResponse:
    if name not in FILES:
        raise NotFound("file", name)
    return FileResponse(ASSETS / name, media_type=FILES[name], headers={"Cache-Control": "public, max-age=86400"})


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    return RedirectResponse(FAVICON, status_code=301)
