"""The maps in the browser: a real base map with street names drawn from the service's own map file and no request
off the machine, a street closed by clicking it and drawn over the routes, the town on the new-alert map, drivers'
names and phones, addresses suggested as they are typed, and a driver opening a stop in the phone's map app.

Every test cuts the browser off from everything but the service: a request to any other address is refused and
recorded, and the test fails if there was one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.web.helpers import Backend, check_a11y, screenshot, sign_in
from tests.web.test_pages import COORDINATOR, seed_town, start_alert

DRIVER_PHONE = "+358 40 765 4321"


class Offsite:
    """Refuses (and records) every request the page makes to anything but the service under test."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.refused: list[str] = []

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.server + "/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def offsite(context: BrowserContext, phone: BrowserContext, server: str) -> Iterator[Offsite]:
    watch = Offsite(server)
    context.route("**/*", watch)
    phone.route("**/*", watch)
    yield watch
    assert not watch.refused, f"requests off the machine: {watch.refused}"


def street_point(page: Page, map_selector: str, name: str) -> tuple[float, float]:
    """Screen position of a point of a road of that name where a click reaches the road (not a marker on it)."""
    return page.evaluate(
        """([sel, name]) => {
            const hits = [...document.querySelectorAll(sel + ' path.road-hit')]
              .filter((p) => p.querySelector('title').textContent.startsWith(name + ' ('))
              .sort((a, b) => b.getTotalLength() - a.getTotalLength());
            hits[0].scrollIntoView({block: 'center'});
            for (const p of hits) {
              for (const f of [0.5, 0.35, 0.65, 0.2, 0.8]) {
                const pt = p.getPointAtLength(p.getTotalLength() * f);
                const m = p.getScreenCTM();
                const x = pt.x * m.a + pt.y * m.c + m.e;
                const y = pt.x * m.b + pt.y * m.d + m.f;
                if (hits.includes(document.elementFromPoint(x, y))) return [x, y];
              }
            }
            throw new Error('no clickable point on ' + name);
        }""",
        [map_selector, name],
    )


def routed_street(backend: Backend, alert_id: int) -> str:
    """A named street some route of the newest plan drives along (its name as the map writes it)."""
    ways = {w["id"]: w["name"] for w in backend.http.get("/map/roads").json()["ways"] if w["name"]}
    plan = backend.call("GET", f"/alerts/{alert_id}/plans/1", COORDINATOR)
    routes = backend.call("GET", f"/alerts/{alert_id}/plans/1/geojson", COORDINATOR)
    assert plan["routes"]
    legs = [f for f in routes["features"] if f["properties"].get("feature") == "leg"]
    coords = {tuple(round(c, 6) for c in p) for f in legs for p in f["geometry"]["coordinates"]}
    roads = backend.http.get("/map/roads").json()["ways"]
    driven = [w for w in roads if w["id"] in ways and sum(tuple(p) in coords for line in w["lines"] for p in line) >= 3]
    assert driven, "no named street on any route"
    return max(driven, key=lambda w: sum(len(line) for line in w["lines"]))["name"]


def test_plan_map_shows_street_names_and_a_clicked_street_closes_over_the_routes(
        page: Page, backend: Backend, offsite: Offsite, screenshot_dir: Path) -> None:
    """The coordinator clicks a street a car drives along: the whole street is chosen, closed, drawn over the
    routes after the re-plan; street names of the town are real text on the map; drivers can be called."""
    ids = seed_town(backend)
    backend.call("PATCH", f"/users/{ids['driver']}", COORDINATOR,
                 {"version": 1, "name": "Driver Dan", "phone": DRIVER_PHONE})
    alert = start_alert(backend)
    street = routed_street(backend, alert["id"])
    sign_in(page, COORDINATOR)
    expect(page.locator("#plan-map path.route").first).to_be_attached(timeout=60_000)

    # A real map: street names of the bundled town as text, buildings and green areas under the roads.
    labels = page.locator("#plan-map text.street-label")
    expect(labels.filter(has_text="Tikankatu")).to_have_count(1)
    expect(page.locator("#plan-map path.base-building")).to_have_count(1)
    expect(page.locator("#plan-map text.place-label").filter(has_text="Marttila")).to_be_visible()
    page.locator("#plan-map svg").focus()
    for _ in range(3):
        page.keyboard.press("+")
    shown = page.evaluate("""() => [...document.querySelectorAll('#plan-map text.street-label')]
        .filter((t) => t.style.display !== 'none' && t.getBBox().width > 0).map((t) => t.textContent)""")
    assert len(shown) >= 3, shown
    page.keyboard.press("0")
    expect(page.locator("#plan-map text.stop-number").first).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#plan-map path.arrow").first).to_be_attached()
    expect(page.locator("#plan-section .legend")).to_contain_text("closed road")

    # Who drives: name, phone, call and text-message links.
    car = page.locator("#cars-table tbody tr").filter(has_text="Dan's grey Volvo")
    expect(car).to_contain_text("Driver Dan")
    expect(car.get_by_role("link", name="Call Driver Dan")).to_have_attribute("href", "tel:+358407654321")
    expect(car.get_by_role("link", name="Text message to Driver Dan")).to_have_attribute("href", "sms:+358407654321")
    expect(page.locator("#stops-table tbody tr").filter(has_text="Dan's grey Volvo").first).to_contain_text(
        "Driver Dan")

    x, y = street_point(page, "#plan-map", street)
    page.mouse.click(x, y)
    expect(page.get_by_label("Road", exact=True)).to_have_value(f"street:{street}")
    expect(page.locator("#closure-choice")).to_contain_text(f"All of {street}")
    check_a11y(page, "dashboard, a street chosen on the map")
    page.get_by_role("button", name="Close and plan again").click()
    expect(page.locator("#plan-info")).to_contain_text("Plan version 2", timeout=60_000)

    street_ways = {w["id"] for w in backend.http.get("/map/roads").json()["ways"] if w["name"] == street}
    assert set(backend.call("GET", f"/alerts/{alert['id']}", COORDINATOR)["closed_ways"]) == street_ways
    closed = page.locator("#plan-map .layer-closed path.closed-road")
    expect(closed).to_have_count(len(street_ways))
    order = page.evaluate("""() => [...document.querySelector('#plan-map svg').children]
        .map((g) => g.getAttribute('class') || g.tagName)""")
    assert order.index("layer-closed") > order.index("layer-routes") > order.index("layer-roads")
    expect(page.locator("#closure-choice")).to_contain_text("closed")
    page.locator("#plan-map").scroll_into_view_if_needed()
    screenshot(page, screenshot_dir, "dashboard-street-closed", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#unserved-title").scroll_into_view_if_needed()
    reason = page.locator("#unserved-table td.reason").first
    assert (reason.bounding_box() or {"width": 0})["width"] > 300  # the whole width of the phone, not a sliver
    check_a11y(page, "dashboard on a phone")
    screenshot(page, screenshot_dir, "dashboard-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Reopen it the same way: by clicking it.
    x, y = street_point(page, "#plan-map", street)
    page.mouse.click(x, y)
    page.get_by_role("button", name="Reopen and plan again").click()
    expect(page.locator("#plan-info")).to_contain_text("Plan version 3", timeout=60_000)
    expect(page.locator("#plan-map .layer-closed path")).to_have_count(0)
    assert backend.call("GET", f"/alerts/{alert['id']}", COORDINATOR)["closed_ways"] == []


def test_new_alert_map_shows_the_town_and_a_click_closes_a_whole_street(
        page: Page, backend: Backend, offsite: Offsite, screenshot_dir: Path) -> None:
    """The flood zone is drawn seeing every household and shelter; in road mode a click closes the whole street
    (or only the piece, with the box unticked), and the alert is posted with those way ids."""
    seed_town(backend)
    sign_in(page, COORDINATOR)
    page.get_by_text("Start a new alert").click()
    expect(page.locator("#draw-map circle.household")).to_have_count(25)
    expect(page.locator("#draw-map rect.shelter")).to_have_count(4)
    expect(page.locator("#new-alert .legend")).to_contain_text("registered household")
    page.get_by_label("Close or open the road clicked").check()
    roads = backend.http.get("/map/roads").json()["ways"]
    counts: dict[str, int] = {}
    for w in roads:
        if w["name"]:
            counts[w["name"]] = counts.get(w["name"], 0) + 1
    street = max(counts, key=lambda n: counts[n])
    assert counts[street] > 1
    x, y = street_point(page, "#draw-map", street)
    page.mouse.click(x, y)
    closed = {int(w) for w in page.get_by_label("Closed roads", exact=True).input_value().split(",")}
    assert closed == {w["id"] for w in roads if w["name"] == street}
    expect(page.locator("#closed-names")).to_contain_text(street)
    page.mouse.click(x, y)  # again: open
    assert page.get_by_label("Closed roads", exact=True).input_value() == ""
    page.get_by_label("A click closes or opens the whole street").uncheck()
    page.mouse.click(x, y)
    assert len(page.get_by_label("Closed roads", exact=True).input_value().split(",")) == 1
    check_a11y(page, "new alert with the town")
    screenshot(page, screenshot_dir, "dashboard-new-alert-town")
    # The households list names where each household is in words, though none has an address registered.
    page.goto("/app/households")
    expect(page.locator("table tbody tr").first).to_contain_text(re.compile(r"near \w"))


def test_address_suggestions_while_typing_place_the_pin(page: Page, backend: Backend, offsite: Offsite,
                                                         screenshot_dir: Path) -> None:
    """A volunteer types where their car starts: the map's own addresses are suggested; choosing one fills the
    position (the same place form serves households and shelters)."""
    seed_town(backend, households=1, cars=1)
    sign_in(page, "driver@example.org")
    page.goto("/app/vehicles")
    # The car registered without an address is listed by the street it is near, not by its coordinates.
    expect(page.locator("#vehicle-list li").first).to_contain_text(re.compile(r"near \w"))
    field = page.get_by_label("Street address")
    field.press_sequentially("Tikank", delay=20)
    expect(page.locator("#address-suggestions option[value='Tikankatu 11']")).to_have_count(1)
    field.fill("Tikankatu 11")
    field.dispatch_event("input")
    expect(page.get_by_label("Latitude")).to_have_value("60.52037")
    expect(page.get_by_label("Longitude")).to_have_value("26.949651")
    expect(page.locator("#address-found")).to_contain_text("Tikankatu 11 is marked on the map")
    expect(page.locator("[data-picker] circle.pin")).to_have_count(1)
    check_a11y(page, "address suggestions")
    screenshot(page, screenshot_dir, "vehicle-address-search")
    page.get_by_label("Street address").fill("")
    page.locator("[data-picker] svg").scroll_into_view_if_needed()
    box = page.locator("[data-picker] svg").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    expect(page.get_by_label("Latitude")).not_to_have_value("60.52037")
    expect(page.locator(".picked-place")).to_contain_text(re.compile(r"Chosen place: (near )?\w"))


def test_driver_opens_a_stop_in_the_map_app(phone: BrowserContext, backend: Backend, offsite: Offsite,
                                            screenshot_dir: Path) -> None:
    """Each stop says where it is in words (no more bare coordinates) and links to the phone's map app with a
    geo: URI of the stop; the drive's map numbers the stops; the header says who drives."""
    ids = seed_town(backend)
    backend.call("PATCH", f"/users/{ids['driver']}", COORDINATOR,
                 {"version": 1, "name": "Driver Dan", "phone": DRIVER_PHONE})
    alert = start_alert(backend)
    manifest = backend.call("GET", f"/alerts/{alert['id']}/manifest", "driver@example.org")
    stop = manifest["routes"][0]["stops"][0]
    page = phone.new_page()
    sign_in(page, "driver@example.org")
    expect(page.locator(".driver")).to_contain_text("Driver Dan")
    first = page.locator("ol.stops > li").first
    expect(first.locator(".stop-address")).to_have_text(stop["place"])
    assert "No street address" not in page.locator("#manifest").inner_text()
    link = first.get_by_role("link", name=re.compile("^Open in my map app"))
    href = link.get_attribute("href") or ""
    assert href.startswith(f"geo:{stop['lat']},{stop['lon']}?q={stop['lat']},{stop['lon']}(")
    first.get_by_role("button", name=re.compile("^Show on the map below")).click()
    expect(page.locator(".trip .map circle.pin")).to_have_count(1)
    expect(page.locator(".trip .map text.stop-number").first).to_have_text("1")
    check_a11y(page, "manifest with places")
    screenshot(page, screenshot_dir, "manifest-places-phone", full_page=False)


def test_api_docs_work_offline(page: Page, offsite: Offsite, screenshot_dir: Path) -> None:
    """/docs shows every operation with Swagger UI served by the service itself; the pages have a favicon."""
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path").filter(has_text="/geocode/search")).to_have_count(1)
    screenshot(page, screenshot_dir, "api-docs", full_page=False)
    page.goto("/app/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(icon).headers["content-type"].startswith("image/svg+xml")
