"""The printable plan: every stop of the stored plan joined to the rosters, coordinators only, audited."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import models
from tests.api.factories import login, services, user
from tests.api.test_alerts import _plan_setup


def test_printable_plan_matches_the_stored_plan(app: FastAPI, client: TestClient) -> None:
    setup = _plan_setup(app, client)
    coordinator, alert_id = setup["coordinator"], setup["alert"]["id"]
    plan = client.get(f"/alerts/{alert_id}/plans/1", headers=coordinator).json()
    response = client.get(f"/alerts/{alert_id}/plans/1/print", headers=coordinator)
    assert response.status_code == 200, response.text
    printed = response.json()
    assert [r["driver_id"] for r in printed["routes"]] == [r["driver_id"] for r in plan["routes"]]
    households = {h["id"]: h for h in client.get("/households", headers=coordinator).json()}
    for route, stored in zip(printed["routes"], plan["routes"], strict=True):
        assert [s["type"] for s in route["stops"]] == [s["type"] for s in stored["stops"]]
        assert route["driver_name"] == "driver"  # the volunteer's account name (made from the e-mail)
        for stop, raw in zip(route["stops"], stored["stops"], strict=True):
            if stop["type"] == "pickup":
                household = households[int(raw["household_id"][1:])]
                assert stop["names"] == [household["name"]] and stop["phones"] == [household["phone"]]
            else:
                assert stop["shelter"] and len(stop["household_ids"]) == len(raw["household_ids"])
    assert len(printed["unserved"]) == len(plan["unserved"])
    with services(app).db.sessions() as session:
        entry = session.query(models.AuditEntry).filter_by(action="print", entity="plan").one()
        assert set(entry.detail["households"]) <= set(households)


def test_only_coordinators_print_the_whole_plan(app: FastAPI, client: TestClient) -> None:
    setup = _plan_setup(app, client)
    alert_id = setup["alert"]["id"]
    assert client.get(f"/alerts/{alert_id}/plans/1/print", headers=login(client, "driver@example.org")).status_code \
        == 403
    registrar = user(app, client, "reg@example.org", "registrar")
    assert client.get(f"/alerts/{alert_id}/plans/1/print", headers=registrar).status_code == 403
    assert client.get(f"/alerts/{alert_id}/plans/9/print", headers=setup["coordinator"]).status_code == 404
    assert client.get(f"/alerts/{alert_id}/plans/1/print").status_code == 401
