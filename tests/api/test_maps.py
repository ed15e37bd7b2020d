"""Map data and offline addresses over HTTP: base layers, address search and description, the local geocoder at
registration, place names in manifests, drivers in manifests, and reopening closed roads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import models
from api.config import Settings
from api.main import create_app
from api.messaging.outbox import _place_words
from tests.api.conftest import make_settings
from tests.api.factories import household_body, login, make_user, shelter_body, user, vehicle_body, wait_job


@pytest.fixture
def local_client(settings: Settings) -> Iterator[TestClient]:
    """The service with its default geocoder: the map's own addresses."""
    app = create_app(make_settings(settings.database_url, geocoder="local"))
    with TestClient(app) as client:
        yield client


def test_the_default_geocoder_is_the_maps_own_addresses() -> None:
    assert Settings().geocoder == "local"


def test_base_map_has_street_names_buildings_and_green(client: TestClient) -> None:
    """Public map data (no sign-in), compressed when the client accepts it, readable when it does not."""
    plain = client.get("/map/base", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    body = plain.json()
    assert {"Tikankatu", "Kortetie"} <= {s["name"] for s in body["streets"]}
    assert len(body["areas"]["building"]) > 2000 and body["areas"]["green"]
    assert "OpenStreetMap" in body["attribution"]
    zipped = client.get("/map/base", headers={"Accept-Encoding": "gzip"})  # the client unpacks it
    assert zipped.headers["content-encoding"] == "gzip" and zipped.json() == body
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3


def test_roads_without_a_name_are_described_by_the_streets_they_join(client: TestClient) -> None:
    ways = client.get("/map/roads").json()["ways"]
    unnamed = [w for w in ways if not w["name"]]
    named = {w["name"] for w in ways if w["name"]}
    described = [w for w in unnamed if w["description"]]
    assert described and len(described) >= len(unnamed) // 2
    for way in described:
        assert way["description"].startswith(("between ", "off "))
        assert any(name in way["description"] for name in named)
    assert all(w["highway"] for w in ways if w["name"])


def test_address_search_and_description_need_a_sign_in(app: FastAPI, client: TestClient) -> None:
    assert client.get("/geocode/search?q=Tik").status_code == 401
    assert client.get("/geocode/reverse?lat=60.52&lon=26.94").status_code == 401
    who = user(app, client, "v@example.org")
    found = client.get("/geocode/search?q=Tikankatu 11", headers=who).json()
    assert found[0] == {"label": "Tikankatu 11", "lat": pytest.approx(60.52037), "lon": pytest.approx(26.949651),
                        "kind": "address", "exact": True}
    assert client.get("/geocode/search?q=" + "x" * 201, headers=who).status_code == 422
    near = client.get("/geocode/reverse?lat=60.53277&lon=26.95735", headers=who).json()
    assert near["label"].startswith("near ") and near["street"] and not near["exact"]
    far = client.get("/geocode/reverse?lat=60.0&lon=25.0", headers=who).json()
    assert far == {"label": "60.00000, 25.00000", "street": "", "meters": None, "exact": False}


def test_registering_by_address_works_offline(local_client: TestClient) -> None:
    """An address of the map places the household with no network; a number the map lacks is refused, naming
    the street, and the registrar is asked to pick the place."""
    client = local_client
    registrar = user(client.app, client, "reg@example.org", "registrar")  # type: ignore[arg-type]
    ok = client.post("/households", headers=registrar, json={"people": 1, "address": "Tikankatu 11"})
    assert ok.status_code == 201, ok.text
    assert (ok.json()["lat"], ok.json()["lon"]) == (pytest.approx(60.52037), pytest.approx(26.949651))
    unknown = client.post("/households", headers=registrar, json={"people": 1, "address": "Tikankatu 99"})
    assert unknown.status_code == 422
    detail = unknown.json()["detail"][0]
    assert detail["loc"] == ["body", "address"] and "Tikankatu" in detail["msg"] and "lat and lon" in detail["msg"]
    nowhere = client.post("/households", headers=registrar, json={"people": 1, "address": "Nowhere 1"})
    assert nowhere.status_code == 422 and "was not found" in nowhere.json()["detail"][0]["msg"]


def _alert_with_plan(app: FastAPI, client: TestClient) -> tuple[dict[str, str], dict[str, str], dict]:
    coordinator = user(app, client, "c@example.org", "coordinator")
    make_user(app, "d@example.org")
    driver_id = client.get("/users?role=volunteer", headers=coordinator).json()[0]["id"]
    client.patch(f"/users/{driver_id}", headers=coordinator,
                 json={"version": 1, "name": "Driver Dan", "phone": "+358 40 123 4567"})
    for i in range(2):
        assert client.post("/shelters", headers=coordinator, json=shelter_body(i)).status_code == 201
    body = {**vehicle_body(0), "owner_id": driver_id, "seats": 4, "wheelchair_spaces": 0}
    assert client.post("/vehicles", headers=coordinator, json=body).status_code == 201
    for i in range(3):
        home = {**household_body(i), "wheelchair_users": 0, "address": ""}
        assert client.post("/households", headers=coordinator, json=home).status_code == 201
    ways = [w["id"] for w in client.get("/map/roads").json()["ways"]]
    created = client.post("/alerts", headers=coordinator,
                          json={"name": "storm", "deadline_minutes": 180, "closed_ways": ways[:2]})
    assert created.status_code == 202, created.text
    job = wait_job(client, coordinator, created.json()["job"]["id"])
    assert job["status"] == "done", job
    return coordinator, login(client, "d@example.org"), created.json()["alert"]


def test_manifest_says_who_drives_and_where_each_stop_is_in_words(app: FastAPI, client: TestClient) -> None:
    _coordinator, driver, alert = _alert_with_plan(app, client)
    manifest = client.get(f"/alerts/{alert['id']}/manifest", headers=driver).json()
    assert manifest["driver_name"] == "Driver Dan" and manifest["driver_phone"] == "+358 40 123 4567"
    stops = [s for r in manifest["routes"] for s in r["stops"]]
    assert stops and all(s["place"] for s in stops)
    assert all(s["place"].startswith("near ") or s["place"][0].isupper() for s in stops)


def test_closed_roads_can_be_reopened(app: FastAPI, client: TestClient) -> None:
    """Reopening takes ways off the alert and queues a re-plan; reopening an open way, or closing and reopening
    the same way at once, is refused naming the field, and nothing changes."""
    coordinator, driver, alert = _alert_with_plan(app, client)
    closed = alert["closed_ways"]
    url = f"/alerts/{alert['id']}/closures"
    opened = client.post(url, headers=coordinator, json={"reopened_ways": [closed[0]]})
    assert opened.status_code == 202, opened.text
    assert opened.json()["alert"]["closed_ways"] == closed[1:]
    assert wait_job(client, coordinator, opened.json()["job"]["id"])["status"] == "done"
    again = client.post(url, headers=coordinator, json={"reopened_ways": [closed[0]]})
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "reopened_ways"]
    both = client.post(url, headers=coordinator, json={"closed_ways": [closed[1]], "reopened_ways": [closed[1]]})
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "reopened_ways"]
    assert client.post(url, headers=driver, json={"reopened_ways": [closed[1]]}).status_code == 403
    assert client.get(f"/alerts/{alert['id']}", headers=coordinator).json()["closed_ways"] == closed[1:]


def test_a_drivers_text_names_the_street_of_a_pickup_without_an_address(settings: Settings) -> None:
    """Messages say where in words: the registered address, else the street the map says the place is near."""
    lat, lon = 60.53277, 26.95735
    assert _place_words(models.Household(address="Satamakatu 5", lat=lat, lon=lon), settings) == "Satamakatu 5"
    assert _place_words(models.Household(address="", lat=lat, lon=lon), settings).startswith("near ")
    assert _place_words(None, settings) == "-"
