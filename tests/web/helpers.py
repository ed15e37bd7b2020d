"""Helpers for the browser tests: seeding through the JSON API, signing in, axe-core checks and screenshots."""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from api import crud, schemas
from api.config import Settings
from api.services import Services
from tests.api.factories import PASSWORD, household_body, kotka, shelter_body, vehicle_body

#: Debian's Chromium (``apt-get install chromium``), else Playwright's own build (``playwright install chromium``).
DEBIAN_CHROMIUM = "/usr/bin/chromium"
HOW_TO_GET_A_BROWSER = ("no Chromium: install Debian's (apt-get install chromium) or Playwright's own "
                        "(python -m playwright install chromium), or point EVAC_CHROMIUM at one")


@cache
def chromium() -> str | None:
    """The browser to drive: ``EVAC_CHROMIUM``, Debian's, or Playwright's own download when installed; else None."""
    wanted = os.environ.get("EVAC_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    if Path(DEBIAN_CHROMIUM).is_file():
        return DEBIAN_CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        own = p.chromium.executable_path
    return own if own and Path(own).is_file() else None


def _axe() -> Path:
    """axe-core as bundled by the ``axe-playwright-python`` package (a dev dependency; its licence is MPL-2.0)."""
    try:
        import axe_playwright_python
    except ImportError:  # not installed: the browser fixture skips with a message saying how to get it
        return Path("axe-playwright-python-is-not-installed") / "axe.min.js"
    return Path(axe_playwright_python.__file__).resolve().parent / "axe.min.js"


AXE = _axe()
#: axe-core impacts that fail a page.
FAILING_IMPACTS = ("serious", "critical")

__all__ = ["AXE", "HOW_TO_GET_A_BROWSER", "PASSWORD", "Backend", "check_a11y", "chromium", "household_body", "kotka",
           "screenshot", "shelter_body", "sign_in", "vehicle_body"]


class Backend:
    """The running service seen through its JSON API, plus direct account creation (no sign-up needed)."""

    def __init__(self, base: str, settings: Settings) -> None:
        self.base = base
        self.settings = settings
        self.http = httpx.Client(base_url=base, timeout=30)
        self._services = Services(settings)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()
        self._services.stop()

    def user(self, email: str, role: str, name: str = "") -> int:
        """Create an account directly in the database; its id."""
        with self._services.db.sessions() as session:
            data = schemas.UserCreate(email=email, password=PASSWORD, role=role, name=name or email.split("@")[0])
            return crud.create_user(session, self._services.passwords, data, role, None).id

    def token(self, email: str) -> dict[str, str]:
        response = self.http.post("/login/access-token", data={"username": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, as_: str, body: Any = None, ok: int = 200) -> Any:
        response = self.http.request(method, path, headers=self.token(as_), json=body)
        assert response.status_code == ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def wait_job(self, job_id: int, as_: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}", as_)
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"plan job {job_id} did not finish in {timeout} s")


def sign_in(page: Any, email: str, password: str = PASSWORD, next_path: str = "") -> None:
    """Sign in through the sign-in page, as a person would (typing, then pressing Enter)."""
    page.goto("/app/signin" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/app/signin" not in url)


def check_a11y(page: Any, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; fail on any serious or critical violation. Returns all violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'],"
        " runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    violations: list[dict[str, Any]] = result["violations"]
    bad = [v for v in violations if v.get("impact") in FAILING_IMPACTS]
    assert not bad, f"{name}: accessibility violations:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} -- {[n['target'] for n in v['nodes']][:5]}" for v in bad)
    return violations


def screenshot(page: Any, folder: Path, name: str, full_page: bool = True) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
