"""End-to-end: accounts and sessions in headless Chromium (issue 12 part 7, issue 8 faults 3, 4 and 6).

A coordinator edits, deactivates and reactivates an account and gives it a temporary password, which its owner
must replace at the next sign-in; anyone changes their own password with the current one; the dashboard lists
the volunteers and cars waiting for approval; the driver's copy of the manifest is kept for the tab only and is
deleted at sign-out, when another user signs in on the device, and when the alert ends; a lockout is said in
plain words.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.helpers import PASSWORD, Backend, check_a11y, screenshot, sign_in, vehicle_body
from tests.web.test_pages import COORDINATOR, seed_town, start_alert


def _stored(page: Page) -> dict[str, list[str]]:
    """The keys of this app's copies in the browser's storage."""
    return page.evaluate("""() => ({
        local: Object.keys(localStorage).filter((k) => k.startsWith('evac.')),
        session: Object.keys(sessionStorage).filter((k) => k.startsWith('evac.')),
    })""")


def test_coordinator_edits_deactivates_and_resets_an_account(context: BrowserContext, page: Page, backend: Backend,
                                                             screenshot_dir: Path) -> None:
    """Edit a name and role; deactivate (the person's open session ends) and reactivate; a common temporary
    password is refused next to its field; a good one ends the person's sessions, and at their next sign-in they
    must choose their own password before anything else."""
    backend.user(COORDINATOR, "coordinator")
    vera = backend.user("vera@example.org", "volunteer", "Vera")
    vera_token = backend.token("vera@example.org")
    sign_in(page, COORDINATOR)
    page.goto("/app/accounts")
    page.get_by_role("button", name="Change Vera").click()
    expect(page.get_by_role("heading", name="Change the account of Vera")).to_be_focused()
    page.locator("#edit-name").fill("Vera Virtanen")
    page.locator("#edit-role").select_option("registrar")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator("#status")).to_have_text("The account of vera@example.org is saved.")
    row = page.locator("#account-table tbody tr", has_text="vera@example.org")
    expect(row).to_contain_text("Vera Virtanen")
    expect(row).to_contain_text("registrar")

    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#status")).to_contain_text("deactivated and signed out everywhere")
    expect(row).to_contain_text("deactivated")
    assert backend.http.get("/users/me", headers=vera_token).status_code == 401
    page.get_by_role("button", name="Reactivate").click()
    expect(row).to_contain_text("active")
    expect(row).not_to_contain_text("deactivated")

    page.get_by_label("Temporary password").fill("password123")
    page.get_by_role("button", name="Set the temporary password").click()
    expect(page.locator("#temporary_password-error")).to_contain_text("too easy to guess")
    expect(page.locator("#temporary_password")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Temporary password").fill("river stone lantern")
    page.get_by_role("button", name="Set the temporary password").click()
    expect(page.locator("#status")).to_contain_text("has a temporary password now")
    expect(row).to_contain_text("must change password")
    check_a11y(page, "accounts (editing)")
    screenshot(page, screenshot_dir, "accounts-edit")
    assert backend.call("GET", f"/users/{vera}", COORDINATOR)["must_change_password"] is True

    # Vera signs in with the temporary password: she is sent to choose her own, and nothing else works till then.
    other = context.browser.new_context(base_url=backend.base, bypass_csp=True)  # type: ignore[union-attr]
    vera_page = other.new_page()
    sign_in(vera_page, "vera@example.org", "river stone lantern")
    expect(vera_page).to_have_url(re.compile(r"/app/password\?next="))
    expect(vera_page.locator("#temporary-note")).to_be_visible()
    vera_page.get_by_label("Current password").fill("not it")
    vera_page.get_by_label("New password", exact=True).fill("my own quiet harbour")
    vera_page.get_by_label("New password again").fill("my own quiet harbour")
    vera_page.get_by_role("button", name="Change the password").click()
    expect(vera_page.locator("#current_password-error")).to_contain_text("not your current password")
    vera_page.get_by_label("Current password").fill("river stone lantern")
    vera_page.get_by_label("New password again").fill("my own quiet harbor")
    vera_page.get_by_role("button", name="Change the password").click()
    expect(vera_page.locator("#repeat_password-error")).to_have_text("The two new passwords are not the same.")
    vera_page.get_by_label("New password again").fill("my own quiet harbour")
    vera_page.get_by_role("button", name="Change the password").click()
    expect(vera_page).to_have_url(re.compile(r"/app/households$"))  # a registrar now: her own page
    other.close()
    assert backend.call("GET", f"/users/{vera}", COORDINATOR)["must_change_password"] is False


def test_anyone_changes_their_own_password_and_other_sessions_end(context: BrowserContext, page: Page,
                                                                   backend: Backend, screenshot_dir: Path) -> None:
    backend.user("rita@example.org", "registrar", "Rita")
    elsewhere = backend.token("rita@example.org")
    sign_in(page, "rita@example.org")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Password").click()
    expect(page.locator("#temporary-note")).to_be_hidden()
    check_a11y(page, "password")
    screenshot(page, screenshot_dir, "password")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("qwertyuiop")
    page.get_by_label("New password again").fill("qwertyuiop")
    page.get_by_role("button", name="Change the password").click()
    expect(page.locator("#new_password-error")).to_contain_text("too easy to guess")
    page.get_by_label("New password", exact=True).fill("lantern over the quay")
    page.get_by_label("New password again").fill("lantern over the quay")
    page.get_by_role("button", name="Change the password").click()
    expect(page.locator("#status")).to_contain_text("Your password is changed")
    assert backend.http.get("/users/me", headers=elsewhere).status_code == 401
    page.goto("/app/households")  # this tab holds the new token
    expect(page.locator("#refused")).to_be_hidden()
    expect(page.locator("#who")).to_contain_text("Rita")


def test_dashboard_lists_who_waits_for_approval(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """A self-signed-up volunteer and the car they registered wait on the dashboard until approved."""
    backend.user(COORDINATOR, "coordinator")
    signup = backend.http.post("/users/signup", json={"email": "new@example.org", "password": PASSWORD,
                                                       "name": "Niko New", "phone": "+358401234567"})
    assert signup.status_code == 202
    backend.call("POST", "/vehicles", "new@example.org", {**vehicle_body(0), "label": "blue Golf"}, ok=201)
    sign_in(page, COORDINATOR)
    table = page.locator("#pending-table tbody")
    expect(table.locator("tr")).to_have_count(2)
    expect(table).to_contain_text("Niko New new@example.org")
    expect(table).to_contain_text("blue Golf")
    check_a11y(page, "dashboard (pending)")
    screenshot(page, screenshot_dir, "dashboard-pending")
    page.get_by_role("button", name="Approve the account of new@example.org").click()
    expect(table.locator("tr")).to_have_count(1)
    page.get_by_role("button", name=re.compile("^Approve car blue Golf")).click()
    expect(page.locator("#pending-section")).to_be_hidden()
    assert backend.call("GET", "/vehicles?approval=pending", COORDINATOR) == []


def test_the_manifest_copy_is_deleted_at_sign_out_another_sign_in_and_alert_end(
        phone: BrowserContext, backend: Backend) -> None:
    """Fault 6: the driver's copy of the manifest (names, phones, needs) survived closing the tab, another user
    signing in on the device and the alert ending. Now it is kept for the tab only (sessionStorage), and deleted
    at sign-out (which also ends the session on the server), when someone else signs in, and when the alert
    ends."""
    seed_town(backend)
    alert = start_alert(backend)
    page = phone.new_page()
    sign_in(page, "driver@example.org")
    expect(page.locator("ol.stops > li").first).to_contain_text("Pick up")
    page.wait_for_function("() => Object.keys(sessionStorage).some((k) => k.startsWith('evac.manifest.'))")
    kept = _stored(page)
    assert kept["local"] == [] and any(k.startswith("evac.manifest.") for k in kept["session"]), kept
    token = page.evaluate("sessionStorage.getItem('evac.token')")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/app/signin"))
    assert _stored(page) == {"local": [], "session": []}
    assert backend.http.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # Another user signs in on the same tab: the first one's copies (left by a tab that never signed out) go.
    sign_in(page, "driver@example.org")
    expect(page.locator("ol.stops > li").first).to_contain_text("Pick up")
    page.evaluate("localStorage.setItem('evac.outbox.999', '[]')")  # someone else's, left on the device
    sign_in(page, "volunteer1@example.org")
    page.wait_for_function("() => !Object.keys(localStorage).includes('evac.outbox.999')")
    left = _stored(page)
    mine = str(backend.call("GET", "/users/me", "volunteer1@example.org")["id"])
    assert all(k in ("evac.token", "evac.me") or k.split(".")[2] == mine for k in left["session"] + left["local"]), left

    # The alert ends: the next load of the manifest page deletes the copy.
    sign_in(page, "driver@example.org")
    expect(page.locator("ol.stops > li").first).to_contain_text("Pick up")
    current = backend.call("GET", f"/alerts/{alert['id']}", COORDINATOR)
    backend.call("PATCH", f"/alerts/{alert['id']}", COORDINATOR, {"version": current["version"], "status": "closed"})
    page.reload()
    expect(page.locator("#manifest")).to_contain_text("no active alert")
    page.wait_for_function("() => !Object.keys(sessionStorage).some((k) => k.startsWith('evac.manifest.'))")


def test_a_lockout_is_said_in_plain_words(page: Page, backend: Backend) -> None:
    """Fault 5: after five wrong passwords the account is locked for a while; the page says so, and when."""
    backend.user("lou@example.org", "volunteer")
    page.goto("/app/signin")
    for _ in range(5):
        page.get_by_label("E-mail address").fill("lou@example.org")
        page.get_by_label("Password").fill("not the password")
        page.get_by_label("Password").press("Enter")
        expect(page.locator("#form-error")).to_contain_text("wrong")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("#form-error")).to_contain_text(re.compile(r"Too many failed sign-ins .* Try again in \d+ "
                                                                   r"seconds\."))
