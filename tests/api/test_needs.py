"""Needs at the service's edge: bad needs, pets, languages, phones and walks are one 422 naming the field;
phones are stored in E.164; a duplicate household is a 409 naming the stored one, in the API and in CSV imports."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.config import Settings
from api.main import create_app
from tests.api.factories import csv_text, household_body, services, shelter_body, user, vehicle_body

BAD_HOUSEHOLDS = [
    # a need spelt wrong: refused with the right word
    ({"needs": ["oxigen"]}, "needs", "did you mean 'oxygen'?"),
    # a negative number of pets
    ({"pets": -1}, "pets", "greater than or equal to 0"),
    # a phone that does not parse
    ({"phone": "abc-not-a-phone"}, "phone", "is not a valid phone number"),
    # a negative walk
    ({"max_walk_meters": -5}, "max_walk_meters", "greater than or equal to 0"),
    # a language that is no language code
    ({"language": "klingon"}, "language", "is not a language code"),
]


@pytest.mark.parametrize(("change", "field", "words"), BAD_HOUSEHOLDS, ids=[c[1] for c in BAD_HOUSEHOLDS])
def test_bad_household_is_one_422_naming_the_field_and_nothing_is_stored(
    app: FastAPI, client: TestClient, change: dict[str, Any], field: str, words: str
) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    response = client.post("/households", headers=registrar, json={**household_body(0), **change})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"][-1] == field and words in detail["msg"]
    assert client.get("/households", headers=registrar).json() == []


def test_bad_vehicle_language_and_shelter_pets_name_the_field(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    car = client.post("/vehicles", headers=coordinator, json={**vehicle_body(0), "languages": ["fi", "xx"]})
    assert car.status_code == 422 and car.json()["detail"][0]["loc"][-1] == "languages"
    assert client.get("/vehicles", headers=coordinator).json() == []
    shelter = client.post("/shelters", headers=coordinator,
                          json={**shelter_body(0), "pets_allowed": False, "pet_capacity": 5})
    assert shelter.status_code == 422
    assert shelter.json()["detail"][0]["loc"][-1] == "pet_capacity"
    assert "pets_allowed is false" in shelter.json()["detail"][0]["msg"]
    assert client.get("/shelters", headers=coordinator).json() == []


def test_needs_languages_and_phones_are_stored_in_one_form(app: FastAPI, client: TestClient) -> None:
    """Known needs in canonical spelling, free text as given; a local phone in E.164; language codes lower-case."""
    registrar = user(app, client, "reg@example.org", "registrar")
    body = {**household_body(0), "phone": "040 123 4567", "needs": ["Power dependent", "needs help on the stairs"],
            "language": "SV", "pets": 2, "max_walk_meters": 100}
    created = client.post("/households", headers=registrar, json=body)
    assert created.status_code == 201, created.text
    home = created.json()
    assert home["phone"] == "+358401234567"
    assert home["needs"] == ["power_dependent", "needs help on the stairs"]
    assert (home["language"], home["pets"], home["max_walk_meters"]) == ("sv", 2, 100)
    coordinator = user(app, client, "coord@example.org", "coordinator")
    car = client.post("/vehicles", headers=coordinator,
                      json={**vehicle_body(0), "takes_pets": False, "languages": ["FI", "en-gb"]}).json()
    assert (car["takes_pets"], car["languages"]) == (False, ["fi", "en-GB"])
    shelter = client.post("/shelters", headers=coordinator, json={
        **shelter_body(0), "pets_allowed": True, "pet_capacity": 12, "medical_support": True}).json()
    assert (shelter["pet_capacity"], shelter["medical_support"]) == (12, True)


def test_duplicate_household_is_409_naming_the_stored_one_unless_said_different(
    app: FastAPI, client: TestClient
) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    first = client.post("/households", headers=registrar, json=household_body(0)).json()
    # The same phone written another way is the same phone.
    again = client.post("/households", headers=registrar,
                        json={**household_body(1), "phone": household_body(0)["phone"].replace(" ", "")})
    assert again.status_code == 409, again.text
    assert f"household {first['id']}" in again.json()["detail"] and "phone" in again.json()["detail"]
    # The same name at the same door, no phone given.
    same_place = client.post("/households", headers=registrar, json={**household_body(0), "phone": ""})
    assert same_place.status_code == 409 and "name at the same place" in same_place.json()["detail"]
    assert len(client.get("/households", headers=registrar).json()) == 1
    different = client.post("/households", headers=registrar,
                            json={**household_body(0), "not_duplicate": True})
    assert different.status_code == 201
    assert len(client.get("/households", headers=registrar).json()) == 2


def test_csv_import_reports_duplicate_rows_and_bad_needs_and_imports_nothing(
    app: FastAPI, client: TestClient
) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    stored = client.post("/households", headers=registrar, json=household_body(0)).json()
    rows = [
        {**household_body(1), "needs": "oxygen;hearing"},  # row 2: fine
        {**household_body(2), "phone": household_body(1)["phone"], "needs": ""},  # row 3: repeats row 2
        {**household_body(3), "phone": household_body(0)["phone"], "needs": ""},  # row 4: repeats the stored one
        {**household_body(4), "needs": "dialisys"},  # row 5: a need spelt wrong
    ]
    response = client.post("/households/import", headers=registrar,
                           files={"file": ("households.csv", csv_text(rows), "text/csv")})
    assert response.status_code == 422, response.text
    errors = {(e["row"], e["field"]): e["msg"] for e in response.json()["detail"]}
    assert "row 2 of this file" in errors[(3, "phone")]
    assert f"household {stored['id']}" in errors[(4, "phone")]
    assert "did you mean 'dialysis'?" in errors[(5, "needs")]
    assert len(client.get("/households", headers=registrar).json()) == 1


def test_csv_import_looks_duplicates_up_in_bulk_not_per_row(settings: Settings) -> None:
    """An import's duplicate check reads the stored households in bulk (one query per 500 phones or names), not
    once per row: 3 rows and 40 rows make the same number of statements on the households table, and a row that
    repeats a stored household (the last) or an earlier row of the file (the one before) is still reported."""
    app = create_app(settings.model_copy(update={"worker_mode": "external"}))  # no job runner's statements
    with TestClient(app) as client:
        registrar = user(app, client, "reg@example.org", "registrar")
        stored = client.post("/households", headers=registrar, json=household_body(0)).json()
        engine = services(app).db.engine
        statements: list[str] = []

        def count(*args: object) -> None:
            if "FROM households" in str(args[2]):
                statements.append(str(args[2]))

        counts = []
        for n in (3, 40):
            rows = [household_body(i) for i in range(1, n - 1)]
            rows += [{**household_body(n - 1), "phone": rows[0]["phone"]},  # repeats this file's first row
                     {**household_body(n), "phone": household_body(0)["phone"]}]  # repeats the stored one
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                response = client.post("/households/import", headers=registrar,
                                       files={"file": ("households.csv", csv_text(rows), "text/csv")})
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert response.status_code == 422, response.text
            errors = {(e["row"], e["field"]): e["msg"] for e in response.json()["detail"]}
            assert errors.keys() == {(n, "phone"), (n + 1, "phone")}
            assert "row 2 of this file" in errors[(n, "phone")]
            assert f"household {stored['id']}" in errors[(n + 1, "phone")]
            counts.append(len(statements))
        assert counts[0] == counts[1] <= 3, statements
        assert len(client.get("/households", headers=registrar).json()) == 1
