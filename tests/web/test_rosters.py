"""Rosters in the browser: CSV import with a table of every bad row, export, and households and cars searched,
filtered, sorted and paged by the API, checked with axe-core at a desktop and a phone size."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.helpers import Backend, check_a11y, household_body, screenshot, sign_in, vehicle_body
from tests.web.test_pages import seed_town, start_alert

COORDINATOR = "boss@example.org"  # the same as test_pages.seed_town
NAMES = ["Aino Virtanen", "Eino Mäkinen", "Helmi Laine"]


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def household_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + count):
        body = household_body(i % 40)
        rows.append({"name": NAMES[i] if i < len(NAMES) else f"Household number {i:03d}", "phone": f"+358 40 {i:05d}",
                     "lat": body["lat"], "lon": body["lon"], "people": body["people"], "priority": 1 + i % 5})
    return rows


def test_coordinator_imports_a_csv_with_one_bad_row_and_sees_the_errors(page: Page, backend: Backend,
                                                                        screenshot_dir: Path) -> None:
    """One bad row: a table names its row, column and problem, and nothing is imported; fixed, all rows land."""
    backend.user(COORDINATOR, "coordinator")
    rows = household_rows(3)
    rows[1]["people"] = 0  # spreadsheet row 3
    sign_in(page, COORDINATOR, next_path="/app/households")
    expect(page.locator("#household-table")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#empty")).to_be_visible()
    page.get_by_label("Import households from a CSV file").set_input_files(
        files=[{"name": "households.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}])
    page.get_by_role("button", name="Import the file").click()
    errors = page.locator("#import-errors-table tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first.locator("td").nth(0)).to_have_text("3")
    expect(errors.first.locator("td").nth(1)).to_have_text("people")
    expect(page.locator("#import-result-households")).to_contain_text("nothing was imported")
    assert backend.call("GET", "/households", COORDINATOR) == []
    check_a11y(page, "households import errors")
    screenshot(page, screenshot_dir, "households-import-errors")

    rows[1]["people"] = 2
    page.get_by_label("Import households from a CSV file").set_input_files(
        files=[{"name": "households.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}])
    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("#import-result-households")).to_contain_text("Imported: 3 new and 0 changed")
    expect(page.locator("#household-table tbody tr")).to_have_count(3)
    assert len(backend.call("GET", "/households", COORDINATOR)) == 3

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the households as CSV").click()
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert sorted(r["name"] for r in exported) == sorted(NAMES)


def test_coordinator_searches_sorts_and_pages_households(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """60 households: 50 on the first page, the rest on the next; a search finds one by name; sorting by name
    puts it in order; the address bar keeps the search, so a reload shows the same page."""
    backend.user(COORDINATOR, "coordinator")
    response = backend.http.post("/households/import", headers=backend.token(COORDINATOR),
                                 files={"file": ("h.csv", csv_bytes(household_rows(60)), "text/csv")})
    assert response.status_code == 200, response.text
    sign_in(page, COORDINATOR, next_path="/app/households")
    rows = page.locator("#household-table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#household-pages")).to_contain_text("Households 1–50 of 60")
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(10)
    expect(page.locator("#household-pages")).to_contain_text("Households 51–60 of 60")

    page.get_by_label("Name, phone or address").fill("mäkinen")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Eino Mäkinen")
    expect(page).to_have_url(re.compile(r"\?q=m(%C3%A4|ä)kinen$"))
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Name, phone or address")).to_have_value("mäkinen")

    page.get_by_label("Name, phone or address").fill("")
    page.get_by_label("How urgent").select_option("1")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#household-pages")).to_contain_text("of 12")
    page.get_by_role("button", name="Name (sort)").click()
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Name")
    names = rows.locator("td:first-child").all_inner_texts()
    assert names == sorted(names) and len(names) == 12
    check_a11y(page, "households searched")
    screenshot(page, screenshot_dir, "households-search")


def test_coordinator_searches_cars(page: Page, backend: Backend) -> None:
    backend.user(COORDINATOR, "coordinator")
    owner = backend.user("v@example.org", "volunteer")
    for i, label in enumerate(["Blue van", "Red estate", "Blue hatchback"]):
        body = {**vehicle_body(i), "label": label, "owner_id": owner, "wheelchair_spaces": 0}
        backend.call("POST", "/vehicles", COORDINATOR, body, ok=201)
    sign_in(page, COORDINATOR, next_path="/app/vehicles")
    expect(page.locator("#vehicle-list .card")).to_have_count(3)
    expect(page.locator("#list-title")).to_contain_text("(3)")
    page.get_by_label("Name or address of the car").fill("blue")
    page.get_by_label("Order").select_option("label")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#vehicle-list .card")).to_have_count(2)
    assert page.locator("#vehicle-list h3").all_inner_texts() == ["Blue hatchback", "Blue van"]
    check_a11y(page, "cars searched")


def test_roster_pages_pass_axe_on_a_phone(phone: BrowserContext, backend: Backend, screenshot_dir: Path) -> None:
    backend.user(COORDINATOR, "coordinator")
    backend.call("POST", "/households", COORDINATOR, {**household_body(0), "name": "Aino Virtanen"}, ok=201)
    page = phone.new_page()
    sign_in(page, COORDINATOR, next_path="/app/households")
    expect(page.locator("#household-table tbody tr")).to_have_count(1)
    check_a11y(page, "households on a phone")
    screenshot(page, screenshot_dir, "households-phone")
    for path in ("/app/vehicles", "/app/shelters"):
        page.goto(path)
        expect(page.locator("#csv-" + path.rsplit("/", 1)[1])).to_be_visible()
        check_a11y(page, f"{path} on a phone")
    for path in ("/app/drills", "/app/plan"):
        page.goto(path)
        expect(page.locator("#status")).to_contain_text("alert")  # no alert yet: the page says what to do
        check_a11y(page, f"{path} on a phone")


def test_coordinator_prints_the_plan_one_page_per_driver(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """From the dashboard to the printable plan: a sheet per route, the households without a ride with their
    phones; in print media the controls are gone and each driver starts a new page (counted in the PDF); the plan
    JSON and GeoJSON download."""
    seed_town(backend)
    alert = start_alert(backend)
    plan = backend.call("GET", f"/alerts/{alert['id']}/plans/1", COORDINATOR)
    assert plan["routes"] and plan["unserved"]
    sign_in(page, COORDINATOR)
    page.get_by_role("link", name=re.compile("Print the plan")).click()
    expect(page.locator("body[data-ready]")).to_be_attached(timeout=30_000)
    sheets = page.locator(".driver-sheet")
    expect(sheets).to_have_count(len(plan["routes"]))
    stops = sum(len(r["stops"]) for r in plan["routes"])
    expect(page.locator(".route-table tbody tr")).to_have_count(stops)
    helmi = household_body(31)
    e164 = helmi["phone"].replace(" ", "")  # phones are stored and shown in E.164
    expect(page.locator("#unserved-print tbody tr").filter(has_text="Helmi Wheelchair")).to_contain_text(e164)
    check_a11y(page, "printable plan")
    screenshot(page, screenshot_dir, "plan-print-screen")

    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#plan-actions")).to_be_hidden()
    expect(page.locator("#plan-choose")).to_be_hidden()
    expect(sheets.first).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.driver-sheet')).breakBefore") == "page"
    screenshot(page, screenshot_dir, "plan-print")
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= len(plan["routes"]) + 2, pages  # the cover, a page per driver, the unserved list

    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the plan (JSON)").click()
    assert json.loads(Path(download.value.path()).read_text("utf-8"))["routes"] == plan["routes"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the map of the plan (GeoJSON)").click()
    assert json.loads(Path(download.value.path()).read_text("utf-8"))["type"] == "FeatureCollection"

    page.goto(f"/app/plan?alert={alert['id']}&show=unserved")
    expect(page.locator("body[data-ready]")).to_be_attached()
    expect(sheets).to_have_count(0)
    expect(page.locator("#unserved-print tbody tr")).to_have_count(len(plan["unserved"]))


def test_coordinator_runs_a_drill_and_opens_its_report(page: Page, backend: Backend, screenshot_dir: Path) -> None:
    """From the Drills page: a drill on the town as registered runs in the background; its report opens in a new
    tab (plots included) and the drivers' contact list downloads."""
    seed_town(backend, households=8, cars=3)
    start_alert(backend)
    sign_in(page, COORDINATOR, next_path="/app/drills")
    expect(page.get_by_label("Alert to rehearse")).to_contain_text("Storm Aila")
    page.get_by_label("How many times to play it").fill("2")
    page.get_by_role("button", name="Run the drill").click()
    row = page.locator("#drill-table tbody tr").first
    expect(row).to_contain_text("done", timeout=240_000)
    expect(row).to_contain_text("first drill")
    check_a11y(page, "drills")
    screenshot(page, screenshot_dir, "drills")

    with page.expect_popup() as popup:
        row.get_by_role("button", name=re.compile("Open the report")).click()
    report = popup.value
    report.wait_for_load_state()
    assert report.title().startswith("Drill report")
    assert report.locator("img").count() >= 3
    screenshot(report, screenshot_dir, "drill-report", full_page=False)
    with page.expect_download() as download:
        row.get_by_role("button", name="Drivers' contact list (CSV)").click()
    header = Path(download.value.path()).read_text("utf-8").splitlines()[0]
    assert "driver_name" in header and "household_phone" in header
