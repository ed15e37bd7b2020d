"""Paged lists: the total in X-Total-Count, search, filters and sort, and the same access rules as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import models
from api.listing import TOTAL_HEADER, Filters, HouseholdFilters, ShelterFilters, VehicleFilters, clauses
from tests.api.factories import csv_text, household_body, services, upload, user, vehicle_body

PEOPLE = [
    # name, phone, address, priority, needs
    ("Aino Virtanen", "+358 40 111", "Kirkkokatu 3", 1, ["oxygen"]),
    ("Eino Mäkinen", "+358 40 222", "Keskuskatu 10", 2, []),
    ("Ville 100% Ok", "+358 40 333", "Satamakatu 5", 3, ["dialysis", "oxygen mask"]),
    ("Helmi_Laine", "+358 40 444", "Kirkkokatu 7", 5, ["wheelchair"]),
]


def _seed(app: FastAPI, client: TestClient) -> dict[str, str]:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    rows = []
    for i, (name, phone, address, priority, needs) in enumerate(PEOPLE):
        rows.append({**household_body(i), "name": name, "phone": phone, "address": address, "priority": priority,
                     "needs": needs})
    response = upload(client, "/households/import", coordinator, csv_text(rows))
    assert response.status_code == 200, response.text
    return coordinator


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["name"] for h in response.json()]


def test_pages_carry_the_total_of_the_whole_list(app: FastAPI, client: TestClient) -> None:
    """Each page holds at most ``limit`` items; X-Total-Count is the length of the whole list on every page."""
    coordinator = _seed(app, client)
    first = client.get("/households?limit=3", headers=coordinator)
    second = client.get("/households?limit=3&offset=3", headers=coordinator)
    assert len(first.json()) == 3 and len(second.json()) == 1
    assert first.headers[TOTAL_HEADER] == second.headers[TOTAL_HEADER] == "4"
    assert {h["id"] for h in first.json()}.isdisjoint(h["id"] for h in second.json())
    past = client.get("/households?offset=10", headers=coordinator)
    assert past.json() == [] and past.headers[TOTAL_HEADER] == "4"
    for path in ("/vehicles", "/shelters", "/users", "/alerts", "/audit"):
        response = client.get(path, headers=coordinator)
        assert response.status_code == 200 and response.headers[TOTAL_HEADER] == str(len(response.json())), path


@pytest.mark.parametrize(("query", "expected"), [
    ("q=kirkko", ["Aino Virtanen", "Helmi_Laine"]),           # address, any case
    ("q=40%20222", ["Eino Mäkinen"]),                          # phone
    ("q=MÄKI", ["Eino Mäkinen"]),                              # name, non-ASCII
    ("q=100%25", ["Ville 100% Ok"]),                           # a % is a character, not a wildcard
    ("q=i_l", ["Helmi_Laine"]),                                # so is _
    ("q=%25", ["Ville 100% Ok"]),
    ("priority=2", ["Eino Mäkinen"]),
    ("priority_at_most=2", ["Aino Virtanen", "Eino Mäkinen"]),
    ("needs=oxygen", ["Aino Virtanen"]),                       # the whole need, not "oxygen mask"
    ("needs=oxygen%20mask", ["Ville 100% Ok"]),
    ("needs=ox", []),
    ("q=katu&priority_at_most=3&needs=dialysis", ["Ville 100% Ok"]),   # filters combine
    ("sort=-priority", ["Helmi_Laine", "Ville 100% Ok", "Eino Mäkinen", "Aino Virtanen"]),
    ("sort=name", ["Aino Virtanen", "Eino Mäkinen", "Helmi_Laine", "Ville 100% Ok"]),
    ("sort=address&q=kirkko", ["Aino Virtanen", "Helmi_Laine"]),
])
def test_search_filters_and_sort(app: FastAPI, client: TestClient, query: str, expected: list[str]) -> None:
    coordinator = _seed(app, client)
    response = client.get(f"/households?{query}", headers=coordinator)
    assert _names(response) == expected
    assert response.headers[TOTAL_HEADER] == str(len(expected))


@pytest.mark.parametrize("query", [
    "q=a%00b",               # NUL: PostgreSQL would refuse it in a comparison
    "priority=0",            # out of range
    "sort=password_hash",    # only the listed columns sort
    "sort=registrar_id;drop",
    f"q={'x' * 201}",        # too long
])
def test_bad_list_queries_are_422(app: FastAPI, client: TestClient, query: str) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    response = client.get(f"/households?{query}", headers=coordinator)
    assert response.status_code == 422, response.text


def test_records_by_id_and_the_roster_summary(app: FastAPI, client: TestClient) -> None:
    """The dashboard asks for the households of a plan by id, and for the totals in one small answer."""
    coordinator = _seed(app, client)
    ids = [h["id"] for h in client.get("/households", headers=coordinator).json()]
    response = client.get(f"/households?ids={ids[3]}&ids={ids[0]}", headers=coordinator)
    assert _names(response) == ["Aino Virtanen", "Helmi_Laine"]
    summary = client.get("/rosters/summary", headers=coordinator).json()
    assert summary["households"] == 4 and summary["people"] == sum(household_body(i)["people"] for i in range(4))
    assert summary["cars"] == summary["seats"] == 0 and summary["volunteers"] == 0
    registrar = user(app, client, "reg@example.org", "registrar")
    assert client.get("/rosters/summary", headers=registrar).status_code == 403
    assert client.get(f"/households?ids={ids[0]}", headers=registrar).json() == []   # ids never widen access


def test_unconfirmed_households(app: FastAPI, client: TestClient) -> None:
    """Not confirmed within the stale days, or flagged changed: the same households as ``GET /checkins/stale``."""
    coordinator = _seed(app, client)
    ids = [h["id"] for h in client.get("/households", headers=coordinator).json()]
    with services(app).db.sessions() as session:
        now = models.utcnow()
        session.get_one(models.Household, ids[0]).confirmed_at = now
        session.get_one(models.Household, ids[1]).confirmed_at = now - timedelta(days=400)
        session.get_one(models.Household, ids[2]).confirmed_at = now
        session.get_one(models.Household, ids[2]).changed_at = now
        session.commit()
    stale = client.get("/households?unconfirmed=true", headers=coordinator)
    assert [h["id"] for h in stale.json()] == ids[1:] and stale.headers[TOTAL_HEADER] == "3"
    assert [h["id"] for h in client.get("/households?unconfirmed=false", headers=coordinator).json()] == ids[:1]
    listed = {r["id"] for r in client.get("/checkins/stale?kind=household", headers=coordinator).json()}
    assert listed == set(ids[1:])


def test_registrar_total_counts_only_their_households(app: FastAPI, client: TestClient) -> None:
    """Filters narrow what the user may see; they never widen it."""
    _seed(app, client)
    registrar = user(app, client, "reg@example.org", "registrar")
    client.post("/households", headers=registrar, json={**household_body(5), "name": "Own Aino"})
    response = client.get("/households?q=aino", headers=registrar)
    assert _names(response) == ["Own Aino"] and response.headers[TOTAL_HEADER] == "1"


def test_vehicle_search_and_filters(app: FastAPI, client: TestClient) -> None:
    volunteer = user(app, client, "v@example.org")
    for i, (label, chairs) in enumerate([("Blue van", 1), ("Red car", 0), ("Blue estate", 0)]):
        body = {**vehicle_body(i), "label": label, "wheelchair_spaces": chairs}
        assert client.post("/vehicles", headers=volunteer, json=body).status_code == 201
    coordinator = user(app, client, "coord@example.org", "coordinator")
    response = client.get("/vehicles?q=blue&wheelchair_spaces=0", headers=coordinator)
    assert [v["label"] for v in response.json()] == ["Blue estate"] and response.headers[TOTAL_HEADER] == "1"
    labels = [v["label"] for v in client.get("/vehicles?sort=-label", headers=volunteer).json()]
    assert labels == ["Red car", "Blue van", "Blue estate"]


def test_a_list_is_audited_with_the_ids_shown(app: FastAPI, client: TestClient) -> None:
    coordinator = _seed(app, client)
    shown = [h["id"] for h in client.get("/households?q=kirkko", headers=coordinator).json()]
    with services(app).db.sessions() as session:
        entry = session.query(models.AuditEntry).filter_by(action="list", entity="household").one()
        assert entry.detail["ids"] == shown


@pytest.mark.parametrize("model", [HouseholdFilters, VehicleFilters, ShelterFilters])
def test_every_filter_declares_one_clause(model: type[Filters]) -> None:
    """A filter field without a clause would be accepted and silently ignored: each declares exactly one."""
    for name, info in model.model_fields.items():
        if name == "sort":
            continue
        kinds = getattr(info.annotation, "__args__", ())
        value: Any = (True if bool in kinds else 1 if int in kinds
                      else [1] if any(getattr(k, "__origin__", None) is list for k in kinds) else "x")
        assert len(clauses(model(**{name: value}))) == 1, name
