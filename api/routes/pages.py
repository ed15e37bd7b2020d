"""The web pages (``/app/...``); the map data they draw comes from ``api.routes.maps``.

Pages are server-rendered shells with no personal data in them: their JavaScript signs in through
``POST /login/access-token``, keeps the bearer token in ``sessionStorage`` and reads and writes everything through
the JSON API, so a page can never show what the API would refuse its user. Each page names the roles it is for;
for anyone else it says so and asks nothing of the API. Scripts and styles are files (a strict Content Security
Policy forbids inline script), served from ``api/web/static``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.errors import NotFound
from matcher.needs import need_groups

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC = WEB / "static"
templates = Jinja2Templates(directory=str(WEB / "templates"))
#: The needs vocabulary, so the household form offers exactly the words the plan acts on.
templates.env.globals["NEED_GROUPS"] = need_groups()

EVERYONE = ("coordinator", "volunteer", "registrar")

#: Headers of every page: nothing but our own files runs or loads, and no other site may frame the pages.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
         ".json": "application/json", ".ico": "image/x-icon"}


@dataclass(frozen=True)
class Page:
    template: str
    title: str
    script: str
    #: Roles the page is for; empty: anyone, signed in or not.
    roles: tuple[str, ...] = EVERYONE


PAGES = {
    "": Page("home.html", "Start", "home"),
    "signin": Page("signin.html", "Sign in", "signin", ()),
    "signup": Page("signup.html", "Volunteer sign-up", "signup", ()),
    "vehicles": Page("vehicles.html", "Cars", "vehicles", ("volunteer", "coordinator")),
    "households": Page("households.html", "Households", "households", ("registrar", "coordinator")),
    "households/new": Page("household.html", "Register a household", "household", ("registrar", "coordinator")),
    "shelters": Page("shelters.html", "Shelters", "shelters"),
    "accounts": Page("accounts.html", "Accounts", "accounts", ("coordinator",)),
    "password": Page("password.html", "Your password", "password"),
    "dashboard": Page("dashboard.html", "Coordinator dashboard", "dashboard", ("coordinator",)),
    "manifest": Page("manifest.html", "Driver's manifest", "manifest", ("volunteer", "coordinator")),
    "plan": Page("plan.html", "Printable plan", "plan", ("coordinator",)),
    "drills": Page("drills.html", "Drills", "drills", ("coordinator",)),
}

router = APIRouter()


@cache
def static_files() -> dict[str, Path]:
    """The files under ``api/web/static`` by their URL name (nothing outside that folder is ever served)."""
    return {p.relative_to(STATIC).as_posix(): p for p in sorted(STATIC.rglob("*")) if p.is_file()}


@cache
def static_version() -> str:
    """A digest of every static file: the service worker's cache name, so new files replace old caches."""
    digest = hashlib.sha256()
    for name, path in static_files().items():
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _render(request: Request, key: str, page: Page, **extra: Any) -> HTMLResponse:
    context = {"page": key or "home", "title": page.title, "script": page.script, "roles": page.roles, **extra}
    return templates.TemplateResponse(request, page.template, context, headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app", include_in_schema=False)
def app_root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app/sw.js", include_in_schema=False)
def service_worker(request: Request) -> Response:
    """The service worker: keeps the pages, scripts and road map so a loaded manifest opens again offline."""
    shell = ["/app/", "/app/signin", "/app/manifest", "/app/dashboard", "/app/vehicles", "/app/shelters",
             "/map/roads", "/map/base", *(f"/app/static/{name}" for name in static_files())]
    return templates.TemplateResponse(request, "sw.js", {"version": static_version(), "shell": shell},
                                      media_type="text/javascript",
                                      headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/app/static/{name:path}", include_in_schema=False)
def static(name: str) -> FileResponse:
    path = static_files().get(name)
    if path is None:
        raise NotFound("file", name)
    return FileResponse(path, media_type=TYPES.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/app/households/{household_id:int}", include_in_schema=False)
def household_page(request: Request, household_id: int) -> HTMLResponse:
    """The registration steps again, filled in with the household (its data is read by the page's script)."""
    page = PAGES["households/new"]
    return _render(request, "households/new", Page(page.template, "Change a household", page.script, page.roles),
                   household_id=household_id)


@router.get("/app/{key:path}", include_in_schema=False)
def page(request: Request, key: str) -> HTMLResponse:
    found = PAGES.get(key.strip("/"))
    if found is None:
        raise NotFound("page", key)
    return _render(request, key.strip("/"), found)
