"""Browser fixtures: the service under uvicorn on a free loopback port, Debian's Chromium driven by Playwright.

The browser is ``EVAC_CHROMIUM`` when set, else Debian's ``/usr/bin/chromium`` (``apt-get install chromium``), else
Playwright's own build when it was installed (``python -m playwright install chromium``). axe-core comes from the
``axe-playwright-python`` package (a dev dependency), so ``pip install -e .[dev]`` is all a fresh clone needs. When
either is missing the browser tests are skipped with a message saying how to get it, except in CI (``CI`` set),
where they fail: CI must run them.

Screenshots go to ``EVAC_SCREENSHOT_DIR`` when set (``docs/screenshots`` to refresh the README's), else to a
temporary folder that pytest keeps for the last runs.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from api import migrate
from api.config import Settings
from api.main import create_app
from tests.api.conftest import make_settings, wipe
from tests.web.helpers import AXE, HOW_TO_GET_A_BROWSER, Backend, chromium

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must run the browser tests")
    pytest.skip(f"{what}: browser tests skipped")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'evac.db'}"
    migrate.upgrade(Settings(database_url=url))
    # Lockouts long enough that the lockout test never depends on the machine's speed (only its own account is
    # ever locked: the whole session fails far fewer sign-ins from 127.0.0.1 than lock an address). Every browser
    # test signs in from 127.0.0.1 against this one server, so the per-address rate buckets are set past what the
    # whole session uses: otherwise a fast machine runs out of them (the buckets are tested in tests/api).
    return make_settings(url, lockout_base_seconds=3600, lockout_max_seconds=3600,
                         login_burst_per_address=100_000, signup_burst_per_address=100_000)


@pytest.fixture(scope="session")
def server(web_settings: Settings) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 in a thread of this process; its base URL."""
    port = _free_port()
    config = uvicorn.Config(create_app(web_settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    # The server warms up in threads of this process (map, worker loops) while it answers: on a busy machine the
    # first answer can take many seconds, so wait as long as the start itself may.
    assert httpx.get(f"{base}/health", timeout=60).status_code == 200
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def backend(server: str, web_settings: Settings) -> Iterator[Backend]:
    """An empty database behind the running server, and a client to seed it through the API."""
    wipe(web_settings.database_url)
    with Backend(server, web_settings) as b:
        yield b


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium()
    if executable is None:
        _missing(HOW_TO_GET_A_BROWSER)
    if not AXE.is_file():
        _missing(f"axe-core is missing ({AXE}): pip install -e .[dev] (it brings axe-playwright-python)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield b
        b.close()


# `expect` retries until the page shows what is asserted; its 5 s default ceiling is a wall-clock bet that a
# busy 2-core machine loses (a page's script runs late, not wrong). Same ceiling as the contexts' actions.
expect.set_options(timeout=15_000)


@pytest.fixture
def context(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A fresh browser profile (no token, no storage) sized like a laptop. CSP is bypassed only so the tests
    can inject axe-core; the pages themselves never need it."""
    ctx = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, bypass_csp=True,
                              locale="en-GB", timezone_id="Europe/Helsinki")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def phone(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A phone-sized profile, for the driver's manifest."""
    ctx = browser.new_context(base_url=server, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                              is_mobile=True, has_touch=True, bypass_csp=True, locale="en-GB",
                              timezone_id="Europe/Helsinki")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("EVAC_SCREENSHOT_DIR")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pytest_report_header(config: Any) -> str:
    return f"browser: {chromium() or HOW_TO_GET_A_BROWSER}, axe-core: {AXE}"
