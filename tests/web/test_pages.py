"""End-to-end: the web pages in headless Chromium against the running service, with axe-core on every page.

Each scenario is what a person does: a volunteer signs up and registers a car; a registrar registers a household
on someone's behalf; a coordinator starts an alert with a flood zone and reads the plan; a driver marks a pickup
(also without a connection); a volunteer is refused another volunteer's manifest. Screenshots of every page are
written to ``screenshot_dir``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.web.helpers import (
    Backend,
    check_a11y,
    household_body,
    screenshot,
    shelter_body,
    sign_in,
    vehicle_body,
)

COORDINATOR = "boss@example.org"


def road_point(page: Page, map_selector: str, index: int = 0) -> tuple[float, float]:
    """Screen position of the middle of a named road drawn on the map (a place the service accepts)."""
    return page.evaluate(
        """([sel, i]) => {
            const roads = document.querySelectorAll(sel + ' path.road.named');
            const p = roads[i % roads.length];
            p.scrollIntoView({block: 'center'});
            const pt = p.getPointAtLength(p.getTotalLength() / 2);
            const m = p.getScreenCTM();
            return [pt.x * m.a + pt.y * m.c + m.e, pt.x * m.b + pt.y * m.d + m.f];
        }""",
        [map_selector, index],
    )


def seed_town(backend: Backend, households: int = 24, cars: int = 5) -> dict[str, Any]:
    """Shelters, volunteers with a car each (no wheelchair places; ``driver@example.org`` has the first) and
    households, one of them with a wheelchair user, whom no car can take."""
    backend.user(COORDINATOR, "coordinator", "Coordinator Kirsi")
    driver = backend.user("driver@example.org", "volunteer", "Driver Dan")
    owners = [driver] + [backend.user(f"volunteer{i}@example.org", "volunteer") for i in range(1, cars)]
    registrar = backend.user("registrar@example.org", "registrar", "Registrar Rita")
    for i in range(4):
        backend.call("POST", "/shelters", COORDINATOR, shelter_body(i), ok=201)
    labels = ["Dan's grey Volvo"] + [f"Car {i + 1}" for i in range(1, cars)]
    for i, owner in enumerate(owners):
        body = {**vehicle_body(i), "wheelchair_spaces": 0, "seats": 4, "label": labels[i], "owner_id": owner}
        backend.call("POST", "/vehicles", COORDINATOR, body, ok=201)
    for i in range(households):
        body = {**household_body(i), "wheelchair_users": 0}
        backend.call("POST", "/households", "registrar@example.org", body, ok=201)
    chair = {**household_body(31), "name": "Helmi Wheelchair", "people": 2, "wheelchair_users": 1}
    backend.call("POST", "/households", "registrar@example.org", chair, ok=201)
    return {"driver": driver, "registrar": registrar}


def start_alert(backend: Backend) -> dict[str, Any]:
    created = backend.call("POST", "/alerts", COORDINATOR, {"name": "Storm Aila", "deadline_minutes": 180}, ok=202)
    job = backend.wait_job(created["job"]["id"], COORDINATOR)
    assert job["status"] == "done", job
    return created["alert"]


def close_an_unnamed_road(page: Page, backend: Backend, alert_id: int) -> None:
    """Close a road found by what it joins (the list is grouped by street) and see plan version 2 around it."""
    # Close a road (chosen in the list, grouped by street; the map fills the same list) and plan again around it.
    page.get_by_label("Find a road").fill("between")
    select = page.get_by_label("Road", exact=True)
    value = select.locator("optgroup[label='Roads without a name'] option").first.get_attribute("value")
    assert value is not None and value.startswith("way:")
    way = value[4:]
    select.select_option(value)
    page.get_by_role("button", name="Close and plan again").click()
    expect(page.locator("#plan-info")).to_contain_text("Plan version 2", timeout=60_000)
    assert int(way) in backend.call("GET", f"/alerts/{alert_id}", COORDINATOR)["closed_ways"]
    expect(page.locator(f'#plan-map path.road.closed[data-way="{way}"]')).to_have_count(1)


# --- sign-in and roles ----------------------------------------------------------------------------------------


def test_sign_in_errors_are_next_to_the_fields_in_plain_words(page: Page, backend: Backend,
                                                              screenshot_dir: Path) -> None:
    """Empty fields and a wrong password are said in plain words; the right password goes to the role's page."""
    backend.user(COORDINATOR, "coordinator")
    page.goto("/app/signin")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_have_text(re.compile("Please enter your e-mail address"))
    expect(page.get_by_label("E-mail address")).to_be_focused()
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("E-mail address").fill(COORDINATOR)
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page.locator("#form-error")).to_contain_text("The e-mail address or the password is wrong")
    screenshot(page, screenshot_dir, "signin-error")
    check_a11y(page, "sign-in with an error")
    sign_in(page, COORDINATOR)
    expect(page).to_have_url(re.compile("/app/dashboard$"))


def test_pages_refuse_roles_the_api_refuses(context: BrowserContext, backend: Backend) -> None:
    """A volunteer on the dashboard or the households page, and a registrar on the cars page, are told so, and
    the page asks the API for nothing it would refuse."""
    backend.user("vera@example.org", "volunteer")
    backend.user("reg@example.org", "registrar")
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    sign_in(page, "vera@example.org")
    page.wait_for_load_state("networkidle")
    for path in ("/app/dashboard", "/app/households", "/app/households/new", "/app/accounts"):
        asked.clear()
        page.goto(path)
        page.wait_for_load_state("networkidle")
        expect(page.locator("#refused")).to_contain_text("You are signed in as a volunteer driver")
        expect(page.locator("#content")).to_be_hidden()
        api_calls = [u for u in asked if re.search(r"//[^/]+/(users|households|vehicles|alerts)(\?|/|$)", u)
                     and not u.endswith("/users/me")]
        assert api_calls == [], f"{path} asked the API for {api_calls}"
    check_a11y(page, "refused page")
    # The navigation shows only what a volunteer may use.
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Cars")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/app/signin"))  # the service ends the session first, then the page goes
    sign_in(page, "reg@example.org")
    page.goto("/app/vehicles")
    expect(page.locator("#refused")).to_contain_text("for volunteer drivers and coordinators only")
    # Not signed in: sent to sign in, and back after.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/app/signin"))  # the service ends the session first, then the page goes
    page.goto("/app/shelters")
    expect(page).to_have_url(re.compile(r"/app/signin\?next=%2Fapp%2Fshelters"))


# --- volunteer ------------------------------------------------------------------------------------------------


def test_volunteer_signs_up_and_registers_a_car(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """Sign-up, then the car: errors by the fields first, then a place chosen on the map; the API has the car."""
    page.goto("/app/signup")
    check_a11y(page, "sign-up")
    screenshot(page, screenshot_dir, "signup")
    page.get_by_label("Your name").fill("Aino Virtanen")
    page.get_by_label("E-mail address").fill("aino@example.org")
    page.get_by_label("Phone number").fill("+358 40 123 4567")
    page.get_by_label("Choose a password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#password-error")).to_have_text(re.compile("at least 8 characters"))
    page.get_by_label("Choose a password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/app/vehicles?welcome=1")
    expect(page.locator("#status")).to_contain_text("You are signed up")

    # Nothing filled in: every problem is said next to its field.
    page.get_by_role("button", name="Register the car").click()
    expect(page.locator("#seats-error")).to_have_text(re.compile("Please enter the number of seats"))
    expect(page.locator("#address-error")).to_contain_text("choose the place on the map")
    expect(page.get_by_label("Seats for passengers")).to_be_focused()
    check_a11y(page, "car form with errors")

    # A place far from the map's roads: the server refuses it and the page says so by the field.
    page.get_by_label("What should we call the car?").fill("Blue Toyota van")
    page.get_by_label("Seats for passengers").fill("6")
    page.get_by_label("Places for a wheelchair").fill("1")
    page.get_by_label("Latitude").fill("60.10")
    page.get_by_label("Longitude").fill("24.90")
    page.get_by_role("button", name="Register the car").click()
    expect(page.locator("#lat-error")).to_have_text(re.compile("too far from any road"))

    # The place chosen on the map instead.
    page.get_by_label("Latitude").fill("")
    page.get_by_label("Longitude").fill("")
    x, y = road_point(page, "[data-picker]", 3)
    page.mouse.click(x, y)
    expect(page.get_by_label("Latitude")).not_to_have_value("")
    expect(page.locator("[data-picker] circle.pin")).to_have_count(1)
    page.get_by_role("button", name="Register the car").click()
    expect(page.locator("#status")).to_contain_text("Blue Toyota van is registered")
    expect(page.locator("#vehicle-list .card")).to_have_count(1)
    expect(page.locator("#vehicle-list")).to_contain_text("6 seats, 1 wheelchair place")
    screenshot(page, screenshot_dir, "vehicles")
    check_a11y(page, "cars")

    cars = backend.call("GET", "/vehicles", "aino@example.org")
    me = backend.call("GET", "/users/me", "aino@example.org")
    assert [(c["label"], c["seats"], c["wheelchair_spaces"], c["owner_id"]) for c in cars] == [
        ("Blue Toyota van", 6, 1, me["id"])]
    assert me["role"] == "volunteer" and me["phone"] == "+358 40 123 4567"

    # Changing it keeps the version rule: the page sends the version it read.
    page.get_by_role("button", name="Change Blue Toyota van").click()
    page.get_by_label("Seats for passengers").fill("5")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator("#vehicle-list")).to_contain_text("5 seats")


# --- registrar ------------------------------------------------------------------------------------------------


def test_registrar_registers_a_household_with_the_keyboard(page: Page, backend: Backend,
                                                           screenshot_dir: Path) -> None:
    """A caseworker registers a client: a few questions per screen, Enter to go on, an error by the field,
    the home chosen on the map, and a review before saving. The API then has the household, as theirs."""
    backend.user("rita@example.org", "registrar", "Rita")
    sign_in(page, "rita@example.org")
    expect(page).to_have_url(re.compile("/app/households$"))
    page.get_by_role("link", name="Register a household").first.click()
    page.wait_for_url("**/app/households/new")
    expect(page.locator("#progress")).to_have_text("Step 1 of 6")
    check_a11y(page, "household step 1")
    screenshot(page, screenshot_dir, "household-step1")

    name = page.get_by_label("Name of the person or family")
    name.focus()
    name.press("Enter")  # nothing written yet
    expect(page.locator("#name-error")).to_contain_text("Please write the name")
    name.fill("Elli Mäkinen")
    page.get_by_label("Their phone number").fill("+358 50 765 4321")
    page.get_by_label("Their phone number").press("Enter")

    expect(page.locator("#progress")).to_have_text("Step 2 of 6")
    expect(page.get_by_role("heading", name="Where should the driver pick them up?")).to_be_focused()
    page.get_by_label("Street address").fill("Kirkkokatu 3, Kotka")
    x, y = road_point(page, "[data-picker]", 7)
    page.mouse.click(x, y)
    expect(page.get_by_label("Latitude")).not_to_have_value("")
    check_a11y(page, "household step 2 (map)")
    page.get_by_label("Street address").press("Enter")

    expect(page.locator("#progress")).to_have_text("Step 3 of 6")
    page.get_by_label("How many people in all?").fill("2")
    page.get_by_label("How many of them use a wheelchair?").fill("3")
    page.get_by_label("How many of them use a wheelchair?").press("Enter")
    expect(page.locator("#wheelchair_users-error")).to_contain_text("Cannot be more than the number of people")
    expect(page.get_by_label("How many of them use a wheelchair?")).to_be_focused()
    check_a11y(page, "household step 3 with an error")
    screenshot(page, screenshot_dir, "household-error")
    page.get_by_label("How many of them use a wheelchair?").fill("1")
    page.get_by_label("How many pets come along?").fill("1")
    page.get_by_label("How many pets come along?").press("Enter")

    expect(page.locator("#progress")).to_have_text("Step 4 of 6")
    page.get_by_label("Uses oxygen").check()
    page.get_by_label("Other needs").fill("hearing aid")
    page.get_by_label("Language they speak").fill("fi")
    page.get_by_label("Notes for the driver").fill("Third floor, no lift.")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("#progress")).to_have_text("Step 5 of 6")
    page.get_by_label("First of all").check()
    page.get_by_role("button", name="Next").click()

    expect(page.locator("#progress")).to_have_text("Step 6 of 6")
    review = page.locator("#review")
    expect(review).to_contain_text("Elli Mäkinen")
    expect(review).to_contain_text("2, of them 1 in a wheelchair; 1 pet")
    expect(review).to_contain_text("oxygen, hearing aid")
    expect(review).to_contain_text("first of all")
    check_a11y(page, "household review")
    screenshot(page, screenshot_dir, "household-review")
    page.get_by_role("button", name="Register the household").click()
    expect(page.locator("#done-text")).to_contain_text("Elli Mäkinen is registered")
    expect(page.locator("#done-text")).to_be_focused()

    homes = backend.call("GET", "/households", "rita@example.org")
    assert len(homes) == 1
    home = homes[0]
    rita = backend.call("GET", "/users/me", "rita@example.org")
    assert (home["name"], home["people"], home["wheelchair_users"], home["pets"], home["priority"]) == (
        "Elli Mäkinen", 2, 1, 1, 1)
    assert home["needs"] == ["oxygen", "hearing aid"] and home["registrar_id"] == rita["id"]
    assert home["address"] == "Kirkkokatu 3, Kotka" and home["notes"] == "Third floor, no lift."

    page.get_by_role("link", name="See all households").click()
    expect(page.locator("#household-table tbody tr")).to_have_count(1)
    check_a11y(page, "households list")
    screenshot(page, screenshot_dir, "households")


def test_registrar_adds_a_household_during_an_alert(page: Page, backend: Backend) -> None:
    """While an evacuation goes on, a new household is put in the alert at once and a new plan is made for it."""
    seed_town(backend, households=6, cars=2)
    alert = start_alert(backend)
    sign_in(page, "registrar@example.org")
    page.goto("/app/households/new")
    expect(page.locator("#who")).to_be_visible()  # signed in: the page's buttons work from now on
    page.get_by_label("Name of the person or family").fill("Late Lauri")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Latitude").fill(str(household_body(40)["lat"]))
    page.get_by_label("Longitude").fill(str(household_body(40)["lon"]))
    for _ in range(4):
        page.get_by_role("button", name="Next").click()
    expect(page.get_by_label(re.compile("An evacuation is going on \\(Storm Aila\\)"))).to_be_checked()
    check_a11y(page, "household review during an alert")
    page.get_by_role("button", name="Register the household").click()
    expect(page.locator("#done-text")).to_contain_text("added to Storm Aila")
    jobs = backend.call("GET", f"/alerts/{alert['id']}/jobs", COORDINATOR)
    assert [j["reason"] for j in jobs] == ["alert", "new_household"]
    assert backend.wait_job(jobs[-1]["id"], COORDINATOR)["status"] == "done"
    plan = backend.call("GET", f"/alerts/{alert['id']}/plans/2", COORDINATOR)
    lauri = next(h for h in backend.call("GET", "/households", COORDINATOR) if h["name"] == "Late Lauri")
    placed = {s.get("household_id") for r in plan["routes"] for s in r["stops"]} | {
        u["household_id"] for u in plan["unserved"]}
    assert f"H{lauri['id']}" in placed


# --- coordinator ----------------------------------------------------------------------------------------------


def test_coordinator_starts_an_alert_and_sees_the_plan(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """Counts, a new alert with a flood zone drawn by clicks, the plan drawn on the map, the households without a
    ride with their reasons, every stop's status, then a road closed and a re-plan."""
    seed_town(backend)
    sign_in(page, COORDINATOR)
    expect(page.locator("#counts")).to_contain_text("25households")
    expect(page.locator("#counts")).to_contain_text("5volunteers")
    expect(page.locator("#alert-info")).to_contain_text("There is no alert")
    check_a11y(page, "dashboard without an alert")

    page.get_by_text("Start a new alert").click()
    page.get_by_label("Name of the alert").fill("Storm Aila")
    page.get_by_label("Everyone must be at a shelter within (minutes)").fill("180")
    page.locator("#draw-map svg").scroll_into_view_if_needed()
    box = page.locator("#draw-map svg").bounding_box()
    assert box is not None
    for fx, fy in ((0.30, 0.30), (0.40, 0.30), (0.40, 0.42), (0.30, 0.42)):
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    corners = page.get_by_label("Flood zone corners").input_value().splitlines()
    assert len(corners) == 4
    expect(page.locator("#draw-map path.flood-draft")).to_have_count(1)
    check_a11y(page, "new alert form")
    screenshot(page, screenshot_dir, "dashboard-new-alert")
    page.get_by_role("button", name="Start the alert and make a plan").click()

    expect(page.locator("#plan-section")).to_be_visible(timeout=60_000)
    expect(page.locator("#plan-map path.route").first).to_be_attached()
    expect(page.locator("#plan-map path.flood")).to_have_count(1)
    expect(page.locator("#plan-map rect.shelter")).to_have_count(4)
    unserved = page.locator("#unserved-table tbody tr")
    expect(unserved.filter(has_text="Helmi Wheelchair")).to_contain_text("wheelchair")
    expect(page.locator("#stops-table tbody tr").first).to_contain_text("planned")
    expect(page.locator("#cars-table tbody tr").first).to_contain_text("Manifest")

    alerts = backend.call("GET", "/alerts", COORDINATOR)
    assert len(alerts) == 1 and alerts[0]["flood_zones"][0]["type"] == "Polygon"
    ring = alerts[0]["flood_zones"][0]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    plan = backend.call("GET", f"/alerts/{alerts[0]['id']}/plans/1", COORDINATOR)
    assert page.locator("#unserved-table tbody tr").count() == len(plan["unserved"])
    check_a11y(page, "dashboard with a plan")
    screenshot(page, screenshot_dir, "dashboard")
    page.evaluate("document.getElementById('plan-title').scrollIntoView()")
    screenshot(page, screenshot_dir, "dashboard-plan", full_page=False)

    close_an_unnamed_road(page, backend, alerts[0]["id"])
    page.get_by_role("button", name="Plan again now").click()
    expect(page.locator("#plan-info")).to_contain_text("Plan version 3", timeout=60_000)

    # A driver phones in: their car cannot drive any more. Its stops go to other cars in a new plan.
    row = page.locator("#cars-table tbody tr").first
    owner = re.search(r"user=(\d+)", row.get_by_role("link").get_attribute("href") or "")
    assert owner is not None
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("^Cannot drive any more")).click()
    expect(page.locator("#plan-info")).to_contain_text("Plan version 4", timeout=60_000)
    reasons = [j["reason"] for j in backend.call("GET", f"/alerts/{alerts[0]['id']}/jobs", COORDINATOR)]
    assert reasons == ["alert", "closure", "manual_replan", "dropout"]
    car = next(v for v in backend.call("GET", "/vehicles", COORDINATOR) if v["owner_id"] == int(owner.group(1)))
    plan = backend.call("GET", f"/alerts/{alerts[0]['id']}/plans/4", COORDINATOR)
    assert not [s for r in plan["routes"] if r["driver_id"] == f"V{car['id']}" for s in r["stops"]
                if s["type"] == "pickup"]


def test_coordinator_manages_shelters_and_accounts(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """A shelter added through its form appears in the table and on the map; a registrar account is created."""
    backend.user(COORDINATOR, "coordinator")
    sign_in(page, COORDINATOR)
    page.goto("/app/shelters")
    page.get_by_label("Name", exact=True).fill("Harbour school")
    page.get_by_label("Room for how many people").fill("300")
    page.get_by_label("Latitude").fill("60.524569")
    page.get_by_label("Longitude").fill("26.940714")
    page.get_by_role("button", name="Add the shelter").click()
    expect(page.locator("#shelter-table tbody tr")).to_have_count(1)
    expect(page.locator("#shelter-map rect.shelter")).to_have_count(1)
    check_a11y(page, "shelters")
    screenshot(page, screenshot_dir, "shelters")

    page.goto("/app/accounts")
    page.get_by_label("E-mail address").fill("caseworker@example.org")
    page.get_by_label("Role", exact=True).select_option("registrar")
    page.get_by_label("First password").fill("a long first password")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#account-table")).to_contain_text("caseworker@example.org")
    check_a11y(page, "accounts")
    screenshot(page, screenshot_dir, "accounts")
    users = backend.call("GET", "/users?role=registrar", COORDINATOR)
    assert [u["email"] for u in users] == ["caseworker@example.org"]


# --- driver ---------------------------------------------------------------------------------------------------


def test_driver_reads_the_manifest_and_marks_a_pickup(phone: BrowserContext, context: BrowserContext,
                                                       backend: Backend, screenshot_dir: Path) -> None:
    """On a phone: the stops with tap-to-call numbers; "Picked up" is stored; the coordinator's dashboard shows it;
    with no connection the manifest still opens and a report waits until the connection is back."""
    seed_town(backend)
    alert = start_alert(backend)
    page = phone.new_page()
    sign_in(page, "driver@example.org")
    expect(page).to_have_url(re.compile("/app/manifest$"))
    first = page.locator("ol.stops > li").first
    expect(first).to_contain_text("Pick up")
    tel = first.locator("a.tel")
    expect(tel).to_have_attribute("href", re.compile(r"^tel:\+358\d+$"))
    check_a11y(page, "manifest")
    screenshot(page, screenshot_dir, "manifest")
    screenshot(page, screenshot_dir, "manifest-phone", full_page=False)
    page.emulate_media(media="print")
    expect(first.get_by_role("button", name="Picked up")).to_be_hidden()
    screenshot(page, screenshot_dir, "manifest-print")
    page.emulate_media(media="screen")

    first.get_by_role("button", name="Picked up").click()
    expect(first.locator(".badge")).to_have_text("picked up")
    manifest = backend.call("GET", f"/alerts/{alert['id']}/manifest", "driver@example.org")
    route = manifest["routes"][0]
    statuses = backend.call("GET", f"/alerts/{alert['id']}/stops", COORDINATOR)
    assert [(s["driver_id"], s["stop_index"], s["status"]) for s in statuses] == [(route["driver_id"], 0, "picked_up")]

    # The coordinator sees it on the dashboard.
    board = context.new_page()
    sign_in(board, COORDINATOR)
    expect(board.locator("#stops-table .badge.picked_up")).to_have_count(1, timeout=30_000)

    # No connection: the page opens again from what this phone kept, and a report waits for the connection.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.set_offline(True)
    page.reload()
    expect(page.locator("#offline")).to_contain_text("No connection")
    expect(page.locator("ol.stops > li").first.locator(".badge")).to_have_text("picked up")
    second = page.locator("ol.stops > li").nth(1)
    next_button = second.get_by_role("button", name=re.compile("^(Picked up|Dropped off)$"))
    label = next_button.inner_text()
    next_button.click()
    expect(second.locator(".badge")).to_contain_text("not sent yet")
    screenshot(page, screenshot_dir, "manifest-offline")
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#offline")).to_be_hidden()
    want = "picked_up" if label == "Picked up" else "dropped_off"
    expect(page.locator("ol.stops > li").nth(1).locator(".badge")).to_have_text(want.replace("_", " "))
    statuses = backend.call("GET", f"/alerts/{alert['id']}/stops", COORDINATOR)
    assert [(s["stop_index"], s["status"]) for s in statuses if s["driver_id"] == route["driver_id"]] == [
        (0, "picked_up"), (1, want)]


def test_driver_confirms_not_there_and_can_take_it_back(page: Page, backend: Backend) -> None:
    """"Not there" asks first (dismissed: nothing is sent); confirmed, the stop is marked; "Undo" takes the report
    back, so the stop is waiting again and the household is no longer missed."""
    seed_town(backend)
    alert = start_alert(backend)
    sign_in(page, "driver@example.org")
    first = page.locator("ol.stops > li").first
    expect(first).to_contain_text("Pick up")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    first.get_by_role("button", name="Not there").click()
    expect(first.get_by_role("button", name="Not there")).to_be_visible()
    assert asked and "taken out of the plan" in asked[0]
    assert backend.call("GET", f"/alerts/{alert['id']}/stops", COORDINATOR) == []

    page.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Not there").click()
    expect(first.locator(".badge")).to_have_text("not there")
    assert [s["status"] for s in backend.call("GET", f"/alerts/{alert['id']}/stops", COORDINATOR)] == ["no_show"]

    first.get_by_role("button", name="Undo: they are there after all").click()
    expect(first.locator(".badge")).to_have_count(0)
    expect(first.get_by_role("button", name="Picked up")).to_be_visible()
    assert backend.call("GET", f"/alerts/{alert['id']}/stops", COORDINATOR) == []


def test_volunteer_is_refused_another_volunteers_manifest(context: BrowserContext, backend: Backend,
                                                          screenshot_dir: Path) -> None:
    """Another volunteer asking for the driver's manifest gets the API's 404, and the page shows no household."""
    ids = seed_town(backend)
    alert = start_alert(backend)
    backend.user("other@example.org", "volunteer", "Other Olli")
    page = context.new_page()
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/manifests/" in r.url else None)
    sign_in(page, "other@example.org")
    page.goto(f"/app/manifest?alert={alert['id']}&user={ids['driver']}")
    expect(page.locator("#manifest .refused")).to_contain_text("There is no such manifest, or you may not see it")
    assert answers == [404]
    expect(page.locator("ol.stops")).to_have_count(0)
    assert "Household" not in page.locator("#manifest").inner_text()
    check_a11y(page, "refused manifest")
    screenshot(page, screenshot_dir, "manifest-refused")
    # Their own manifest is empty: no drives of theirs in the plan.
    page.goto("/app/manifest")
    expect(page.locator("#manifest")).to_contain_text("You have no drives in this plan")


@pytest.mark.parametrize("path", ["/app/", "/app/signin", "/app/signup"])
def test_public_pages_pass_axe(page: Page, server: str, path: str, screenshot_dir: Path) -> None:
    """Pages seen before signing in have no serious accessibility problems either."""
    page.goto(path)
    check_a11y(page, path)
    screenshot(page, screenshot_dir, "public-" + (path.strip("/").replace("/", "-") or "home"))
