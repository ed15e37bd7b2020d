"""In Chromium: a re-plan appears on the driver's open manifest by itself (no tap, no reload) with a "your route
changed" banner, and the coordinator's dashboard shows the change and the messages of the alert, which stay
queued with the reason when no SMS provider is set up."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from tests.web.helpers import Backend, check_a11y, screenshot, sign_in
from tests.web.test_pages import COORDINATOR, seed_town, start_alert


def test_replan_reaches_the_open_manifest_and_dashboard_without_a_tap(
        phone: BrowserContext, context: BrowserContext, backend: Backend, screenshot_dir: Path) -> None:
    seed_town(backend)
    alert = start_alert(backend)
    page = phone.new_page()
    sign_in(page, "driver@example.org")
    expect(page).to_have_url(re.compile("/app/manifest$"))
    expect(page.locator("#manifest")).to_contain_text("plan version 1")
    expect(page.locator("#changed")).to_be_hidden()
    board = context.new_page()
    sign_in(board, COORDINATOR)
    expect(board.locator("#messages-section")).to_be_visible(timeout=30_000)
    expect(board.locator("#messages-blocked")).to_contain_text("not sent: no SMS provider set up")
    expect(board.locator("#stale-info")).to_contain_text("not confirmed lately")

    job = backend.call("POST", f"/alerts/{alert['id']}/replan", COORDINATOR, ok=202)
    assert backend.wait_job(job["id"], COORDINATOR)["status"] == "done"
    # Nothing is touched on either page from here on.
    expect(page.locator("#changed")).to_contain_text("Your route changed", timeout=20_000)
    expect(page.locator("#manifest")).to_contain_text("plan version 2")
    expect(board.locator("#plan-changed")).to_contain_text("version 2", timeout=20_000)
    check_a11y(page, "manifest-changed")
    check_a11y(board, "dashboard-messages")
    screenshot(page, screenshot_dir, "manifest-route-changed", full_page=False)
    screenshot(board, screenshot_dir, "dashboard-messages")


def test_manifest_texts_a_household_that_cannot_hear_and_says_what_to_do_at_the_door(
        phone: BrowserContext, backend: Backend, screenshot_dir: Path) -> None:
    """A household with ``hearing`` on the driver's route: the manifest offers Text (an ``sms:`` link), never Call,
    says to knock and show a written message, and shows the card to hold up at the door (api/messaging/reach.py)."""
    seed_town(backend)
    alert = start_alert(backend)
    manifest = backend.call("GET", f"/alerts/{alert['id']}/manifest", "driver@example.org")
    stop = next(s for r in manifest["routes"] for s in r["stops"] if s["type"] == "pickup" and s["household"])
    home = backend.call("GET", f"/households/{stop['household']['id']}", COORDINATOR)
    backend.call("PATCH", f"/households/{home['id']}", COORDINATOR, {"version": home["version"], "needs": ["hearing"]})
    page = phone.new_page()
    sign_in(page, "driver@example.org")
    expect(page).to_have_url(re.compile("/app/manifest$"))
    item = page.locator(f'ol.stops > li[data-stop="{stop["index"]}"]').first
    link = item.locator("a.tel")
    expect(link).to_have_text(re.compile(r"^Text \+?[\d ]+ \(do not call\)$"))
    expect(link).to_have_attribute("href", re.compile(r"^sms:\+358\d+$"))
    expect(item.get_by_role("link", name=re.compile("^Call"))).to_have_count(0)
    expect(item.locator(".at-the-door")).to_contain_text("knock and show a written message")
    expect(item.locator(".door-card")).to_contain_text("Driver")
    check_a11y(page, "manifest-hearing")
    screenshot(page, screenshot_dir, "manifest-hearing", full_page=False)
