"""CSV import and export: a file lands whole, or every bad row is reported and nothing lands."""

from __future__ import annotations

import csv
import io

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.factories import csv_text, household_body, upload, user, vehicle_body


def test_import_then_export_households(app: FastAPI, client: TestClient) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    rows = [{**household_body(i), "needs": ["oxygen", "dialysis"] if i == 0 else []} for i in range(5)]
    result = upload(client, "/households/import", registrar, csv_text(rows))
    assert result.status_code == 200, result.text
    assert result.json()["created"] == 5
    exported = list(csv.DictReader(io.StringIO(client.get("/households/export", headers=registrar).text)))
    assert len(exported) == 5 and exported[0]["needs"] == "oxygen;dialysis"
    assert exported[0]["registrar_email"] == "reg@example.org"


def test_bad_rows_are_all_reported_and_nothing_lands(app: FastAPI, client: TestClient) -> None:
    """Four bad rows among good ones: each is named by row (header = row 1) and field; no row is stored."""
    registrar = user(app, client, "reg@example.org", "registrar")
    rows = [household_body(i) for i in range(6)]
    rows[1]["people"] = "two"  # row 3: not a number
    rows[2]["wheelchair_users"] = 9  # row 4: more wheelchair users than people (the matcher's rule)
    rows[3]["lat"], rows[3]["lon"] = 60.17, 24.94  # row 5: Helsinki, off the Kotka map
    rows[5]["priority"] = 0  # row 7: below 1
    response = upload(client, "/households/import", registrar, csv_text(rows))
    assert response.status_code == 422, response.text
    found = {(e["row"], e["field"]) for e in response.json()["detail"]}
    assert found == {(3, "people"), (4, "wheelchair_users"), (5, "lat"), (7, "priority")}
    assert "nothing was imported" in response.json()["message"]
    assert client.get("/households", headers=registrar).json() == []


def test_export_edit_import_updates_and_refuses_stale_rows(app: FastAPI, client: TestClient) -> None:
    """Rows with an id update their record; a row whose record changed since the export is refused."""
    volunteer = user(app, client, "vol@example.org")
    first = upload(client, "/vehicles/import", volunteer, csv_text([vehicle_body(0), vehicle_body(1)]))
    assert first.status_code == 200, first.text
    sheet = list(csv.DictReader(io.StringIO(client.get("/vehicles/export", headers=volunteer).text)))
    sheet[0]["seats"] = "7"
    first_id = sheet[0]["id"]
    again = upload(client, "/vehicles/import", volunteer, csv_text(sheet))
    assert again.status_code == 200 and again.json() == {"created": 0, "updated": 2, "ids": [int(first_id),
                                                                                          int(sheet[1]["id"])]}
    assert client.get(f"/vehicles/{first_id}", headers=volunteer).json()["seats"] == 7
    stale = upload(client, "/vehicles/import", volunteer, csv_text(sheet))  # still version 1 in the sheet
    assert stale.status_code == 422
    assert {(e["row"], e["field"]) for e in stale.json()["detail"]} == {(2, "version")}


def test_vehicle_import_cannot_touch_someone_elses_rows(app: FastAPI, client: TestClient) -> None:
    owner = user(app, client, "owner@example.org")
    other = user(app, client, "other@example.org")
    car = client.post("/vehicles", headers=owner, json=vehicle_body(0)).json()
    rows = [{"id": car["id"], "seats": 1}, {"owner_email": "owner@example.org", **vehicle_body(1)}]
    response = upload(client, "/vehicles/import", other, csv_text(rows))
    assert response.status_code == 422
    assert {(e["row"], e["field"]) for e in response.json()["detail"]} == {(2, "id"), (3, "row")}


def test_file_level_problems(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    unknown = upload(client, "/shelters/import", coordinator, "name,capasity\nGym,10\n")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "capasity"
    binary = upload(client, "/shelters/import", coordinator, b"\xff\xfe\x00bad")
    assert binary.status_code == 422 and binary.json()["detail"][0]["field"] == "file"
    empty = upload(client, "/shelters/import", coordinator, "")
    assert empty.status_code == 422
    registrar = user(app, client, "reg@example.org", "registrar")
    assert upload(client, "/shelters/import", registrar, "name\nx\n").status_code == 403


def test_export_defuses_spreadsheet_formulas(app: FastAPI, client: TestClient) -> None:
    """A name starting with '=' is exported with an apostrophe and imported back without it."""
    registrar = user(app, client, "reg@example.org", "registrar")
    home = client.post("/households", headers=registrar, json={**household_body(0), "name": "=HYPERLINK(1)"}).json()
    text = client.get("/households/export", headers=registrar).text
    assert "'=HYPERLINK(1)" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert upload(client, "/households/import", registrar, csv_text(rows)).status_code == 200
    assert client.get(f"/households/{home['id']}", headers=registrar).json()["name"] == "=HYPERLINK(1)"
