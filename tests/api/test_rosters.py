"""Vehicles, households and shelters: registration, positions, object-level authorization, versions, audit."""

from __future__ import annotations

import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm.exc import StaleDataError

from api import models
from tests.api.factories import household_body, make_user, services, shelter_body, user, vehicle_body


def test_volunteer_registers_and_changes_own_vehicle(app: FastAPI, client: TestClient) -> None:
    volunteer = user(app, client, "v@example.org")
    created = client.post("/vehicles", headers=volunteer, json={**vehicle_body(0), "available_until_minute": 120})
    assert created.status_code == 201, created.text
    car = created.json()
    assert car["available_until_minute"] == 120 and car["version"] == 1
    changed = client.patch(f"/vehicles/{car['id']}", headers=volunteer, json={"version": 1, "seats": 6})
    assert changed.status_code == 200 and changed.json()["seats"] == 6 and changed.json()["version"] == 2
    assert [v["id"] for v in client.get("/vehicles", headers=volunteer).json()] == [car["id"]]


def test_volunteer_cannot_see_another_volunteers_vehicle(app: FastAPI, client: TestClient) -> None:
    """Another volunteer's vehicle is 404 for reading, changing and deleting, and missing from lists."""
    owner = user(app, client, "owner@example.org")
    other = user(app, client, "other@example.org")
    car = client.post("/vehicles", headers=owner, json=vehicle_body(0)).json()
    assert client.get(f"/vehicles/{car['id']}", headers=other).status_code == 404
    assert client.patch(f"/vehicles/{car['id']}", headers=other, json={"version": 1, "seats": 1}).status_code == 404
    assert client.delete(f"/vehicles/{car['id']}?version=1", headers=other).status_code == 404
    assert client.get("/vehicles", headers=other).json() == []
    assert "owner@example.org" not in client.get("/vehicles/export", headers=other).text


def test_registrar_has_no_vehicle_access(app: FastAPI, client: TestClient) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    assert client.get("/vehicles", headers=registrar).status_code == 403
    assert client.post("/vehicles", headers=registrar, json=vehicle_body(0)).status_code == 403


def test_households_seen_only_by_coordinators_and_their_registrar(app: FastAPI, client: TestClient) -> None:
    """A volunteer: 404 on any household, 403 on the list. Another registrar: 404. Coordinator: everything."""
    registrar = user(app, client, "reg@example.org", "registrar")
    other_registrar = user(app, client, "reg2@example.org", "registrar")
    volunteer = user(app, client, "vol@example.org")
    coordinator = user(app, client, "coord@example.org", "coordinator")
    created = client.post("/households", headers=registrar, json={**household_body(0), "needs": ["oxygen"]})
    assert created.status_code == 201, created.text
    home = created.json()
    assert home["needs"] == ["oxygen"]
    path = f"/households/{home['id']}"
    assert client.get(path, headers=volunteer).status_code == 404
    assert client.get("/households", headers=volunteer).status_code == 403
    assert client.get("/households/export", headers=volunteer).status_code == 403
    assert client.get(path, headers=other_registrar).status_code == 404
    assert client.patch(path, headers=other_registrar, json={"version": 1, "notes": "x"}).status_code == 404
    assert client.get("/households", headers=other_registrar).json() == []
    assert client.get(path, headers=registrar).json()["phone"] == home["phone"]
    assert client.get(path, headers=coordinator).status_code == 200
    assert len(client.get("/households", headers=coordinator).json()) == 1


def test_shelters_are_read_by_all_and_changed_by_coordinators(app: FastAPI, client: TestClient) -> None:
    """A known shelter: the volunteer may read it, so changing it is 403 (not 404)."""
    coordinator = user(app, client, "coord@example.org", "coordinator")
    volunteer = user(app, client, "vol@example.org")
    assert client.post("/shelters", headers=volunteer, json=shelter_body(0)).status_code == 403
    shelter = client.post("/shelters", headers=coordinator, json={**shelter_body(0), "pets_allowed": True}).json()
    assert client.get(f"/shelters/{shelter['id']}", headers=volunteer).json()["pets_allowed"] is True
    assert client.patch(f"/shelters/{shelter['id']}", headers=volunteer, json={"version": 1}).status_code == 403
    assert client.delete(f"/shelters/{shelter['id']}?version=1", headers=volunteer).status_code == 403
    assert client.delete(f"/shelters/{shelter['id']}?version=1", headers=coordinator).status_code == 204


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"lat": 60.17, "lon": 24.94}, "lat", "from the nearest road"),  # Helsinki: off the Kotka map
        ({"address": "Kotkankatu 1"}, "address", "give lat and lon"),  # no geocoder configured
        ({"lat": 60.53}, "lon", "both lat and lon"),
        ({}, "lat", "position is required"),
        ({"lat": 60.53, "lon": 26.95, "wheelchair_users": 3}, "wheelchair_users", "people"),  # matcher's own rule
    ],
)
def test_household_position_and_record_errors_name_the_field(
    app: FastAPI, client: TestClient, body: dict, field: str, words: str
) -> None:
    registrar = user(app, client, "reg@example.org", "registrar")
    response = client.post("/households", headers=registrar, json={"people": 2, **body})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", field] and words in detail["msg"]


def test_address_is_geocoded(app: FastAPI, client: TestClient) -> None:
    """An address without lat/lon goes through the configured geocoder; not found asks for lat/lon."""

    class Fake:
        def locate(self, address: str) -> tuple[float, float] | None:
            return (60.532771, 26.957355) if address == "Satamakatu 5, Kotka" else None

    services(app).geocoder = Fake()
    registrar = user(app, client, "reg@example.org", "registrar")
    found = client.post("/households", headers=registrar, json={"people": 1, "address": "Satamakatu 5, Kotka"})
    assert found.status_code == 201 and found.json()["lat"] == pytest.approx(60.532771)
    missing = client.post("/households", headers=registrar, json={"people": 1, "address": "Nowhere 1"})
    assert missing.status_code == 422 and "was not found" in missing.json()["detail"][0]["msg"]


def test_two_updates_with_the_same_version_one_409(app: FastAPI, client: TestClient) -> None:
    """Two coordinators edit the same version: the second gets 409 with a clear message, nothing is lost."""
    first = user(app, client, "c1@example.org", "coordinator")
    second = user(app, client, "c2@example.org", "coordinator")
    shelter = client.post("/shelters", headers=first, json=shelter_body(0)).json()
    a = client.patch(f"/shelters/{shelter['id']}", headers=first, json={"version": 1, "capacity": 10})
    b = client.patch(f"/shelters/{shelter['id']}", headers=second, json={"version": 1, "name": "Gym"})
    assert a.status_code == 200 and b.status_code == 409
    assert "changed by someone else" in b.json()["detail"] and "reload" in b.json()["detail"]
    stored = client.get(f"/shelters/{shelter['id']}", headers=second).json()
    assert stored["capacity"] == 10 and stored["version"] == 2
    assert client.delete(f"/shelters/{shelter['id']}?version=1", headers=second).status_code == 409


def test_racing_sessions_cannot_both_write_one_version(app: FastAPI, client: TestClient) -> None:
    """Two transactions read version 1 and both write: the database-level version check stops the second."""
    coordinator = user(app, client, "c@example.org", "coordinator")
    shelter_id = client.post("/shelters", headers=coordinator, json=shelter_body(0)).json()["id"]
    db = services(app).db
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def write(capacity: int) -> None:
        with db.sessions() as session:
            shelter = session.get_one(models.Shelter, shelter_id)
            barrier.wait()
            shelter.capacity = capacity
            try:
                session.commit()
                outcomes.append("ok")
            except StaleDataError:
                outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(c,)) for c in (11, 22)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale"]


def test_audit_log_records_reads_of_personal_data_and_changes(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    registrar = user(app, client, "reg@example.org", "registrar")
    home = client.post("/households", headers=registrar, json=household_body(1)).json()
    client.get(f"/households/{home['id']}", headers=coordinator)
    client.patch(f"/households/{home['id']}", headers=registrar, json={"version": 1, "pets": 2})
    entries = client.get(f"/audit?entity=household&entity_id={home['id']}", headers=coordinator).json()
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("reg@example.org", "create"), ("coord@example.org", "read"), ("reg@example.org", "update")]
    assert entries[2]["detail"] == {"fields": ["pets"]}
    listed = client.get("/audit?entity=household", headers=coordinator).json()
    assert any(e["action"] == "list" or e["action"] == "read" for e in listed)
    assert client.get("/audit", headers=registrar).status_code == 403


def test_coordinator_registers_for_others(app: FastAPI, client: TestClient) -> None:
    """A coordinator may register a vehicle for a volunteer and a household in a registrar's name."""
    coordinator = user(app, client, "coord@example.org", "coordinator")
    volunteer_id = make_user(app, "vol@example.org")
    registrar_id = make_user(app, "reg@example.org", "registrar")
    car = client.post("/vehicles", headers=coordinator, json={**vehicle_body(2), "owner_id": volunteer_id})
    assert car.status_code == 201 and car.json()["owner_id"] == volunteer_id
    home = client.post("/households", headers=coordinator, json={**household_body(2), "registrar_id": registrar_id})
    assert home.status_code == 201 and home.json()["registrar_id"] == registrar_id
    bad = client.post("/households", headers=coordinator, json={**household_body(2), "registrar_id": volunteer_id})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "registrar_id"]
