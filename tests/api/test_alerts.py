"""Alert -> plan job -> plan: versions, plan JSON and GeoJSON, and what each role may see of a plan."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import models
from matcher.check import assert_plan_valid
from matcher.plan import Plan
from matcher.scenario import problem_from_dict
from tests.api.factories import kotka, login, make_user, seed_kotka, services, user, wait_job


def _plan_setup(app: FastAPI, client: TestClient) -> dict:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    make_user(app, "driver@example.org")
    make_user(app, "driver2@example.org")
    seed_kotka(client, coordinator, "driver@example.org", households=12, vehicles=4)
    body = {"name": "storm", "deadline_minutes": 120, "flood_zones": kotka()["alert"]["flood_zones"]}
    created = client.post("/alerts", headers=coordinator, json=body)
    assert created.status_code == 202, created.text
    job = wait_job(client, coordinator, created.json()["job"]["id"])
    assert job["status"] == "done", job
    return {"coordinator": coordinator, "alert": created.json()["alert"], "job": job}


def test_alert_job_plan_and_stored_plan_is_valid(app: FastAPI, client: TestClient) -> None:
    """The stored plan passes the matcher's independent check on the problem rebuilt from its scenario."""
    setup = _plan_setup(app, client)
    coordinator, alert_id = setup["coordinator"], setup["alert"]["id"]
    assert setup["job"]["plan_version"] == 1 and setup["job"]["attempts"] == 1
    versions = client.get(f"/alerts/{alert_id}/plans", headers=coordinator).json()
    assert [v["version"] for v in versions] == [1]
    plan = client.get(f"/alerts/{alert_id}/plans/1", headers=coordinator).json()
    assert plan["metrics"]["households_served"] + plan["metrics"]["households_unserved"] == 12
    with services(app).db.sessions() as session:
        stored = session.scalars(select(models.Plan)).one()
        scenario = problem_from_dict(stored.scenario)
        assert_plan_valid(scenario.problem, Plan.from_dict(plan), scenario.graph, scenario.closed_mask)
        assert all("name" not in h and "phone" not in h for h in stored.scenario["households"])
    geo = client.get(f"/alerts/{alert_id}/plans/1/geojson", headers=coordinator).json()
    assert geo["type"] == "FeatureCollection" and any(f["properties"]["feature"] == "leg" for f in geo["features"])
    again = client.post(f"/alerts/{alert_id}/jobs", headers=coordinator)
    assert again.status_code == 202
    assert wait_job(client, coordinator, again.json()["id"])["plan_version"] == 2


def test_volunteer_sees_only_own_routes_and_no_other_household(app: FastAPI, client: TestClient) -> None:
    """A driver sees their own routes while the alert is active; another volunteer and a registrar see no
    household's stop at all; after the alert closes the driver sees none either."""
    setup = _plan_setup(app, client)
    alert_id = setup["alert"]["id"]
    full = client.get(f"/alerts/{alert_id}/plans/1", headers=setup["coordinator"]).json()
    driver = login(client, "driver@example.org")
    mine = client.get(f"/alerts/{alert_id}/plans/1", headers=driver).json()
    assert mine["redacted"] is True and mine["routes"] == full["routes"]  # all 4 cars are this driver's
    assert mine["unserved"] == []
    stranger_headers = login(client, "driver2@example.org")
    for path in (f"/alerts/{alert_id}/plans/1", f"/alerts/{alert_id}/plans/1/geojson"):
        seen = client.get(path, headers=stranger_headers).json()
        text = json.dumps(seen)
        assert '"household_id"' not in text and '"household_ids"' not in text, path
    closed = client.patch(f"/alerts/{alert_id}", headers=setup["coordinator"],
                          json={"version": setup["alert"]["version"], "status": "closed"})
    assert closed.status_code == 200
    assert client.get(f"/alerts/{alert_id}/plans/1", headers=driver).json()["routes"] == []


def test_alert_input_errors_name_the_field(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    no_shelters = client.post("/alerts", headers=coordinator, json={"deadline_minutes": 60})
    assert no_shelters.status_code == 422 and no_shelters.json()["detail"][0]["loc"] == ["body", "shelters"]
    seed_kotka(client, coordinator, "coord@example.org", households=1, vehicles=0)
    unknown = client.post("/alerts", headers=coordinator, json={"deadline_minutes": 60, "household_ids": [999999]})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "household_ids"]
    ring = [[26.95, 60.53], [26.96, 60.53]]  # two positions: no ring
    flat = client.post("/alerts", headers=coordinator,
                       json={"deadline_minutes": 60, "flood_zones": [{"type": "Polygon", "coordinates": [ring]}]})
    assert flat.status_code == 422 and flat.json()["detail"][0]["loc"][:2] == ["body", "flood_zones"]
    volunteer = user(app, client, "vol@example.org")
    assert client.post("/alerts", headers=volunteer, json={"deadline_minutes": 60}).status_code == 403
    assert client.get("/alerts/999999/plans/1", headers=coordinator).status_code == 404


def test_alert_scope_limits_the_households(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    make_user(app, "driver@example.org")
    seed_kotka(client, coordinator, "driver@example.org", households=5, vehicles=2)
    ids = [h["id"] for h in client.get("/households", headers=coordinator).json()][:2]
    created = client.post("/alerts", headers=coordinator, json={"deadline_minutes": 90, "household_ids": ids})
    job = wait_job(client, coordinator, created.json()["job"]["id"])
    plan = client.get(f"/alerts/{created.json()['alert']['id']}/plans/{job['plan_version']}", headers=coordinator)
    metrics = plan.json()["metrics"]
    assert metrics["households_served"] + metrics["households_unserved"] == 2


def test_openapi_documents_the_plan_format(client: TestClient) -> None:
    """The plan routes declare their answer: routes of stops and legs, unserved with their stable codes."""
    spec = client.get("/openapi.json").json()
    answer = spec["paths"]["/alerts/{alert_id}/plans/{version}"]["get"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["$ref"].endswith("/PlanPublic")
    schemas = spec["components"]["schemas"]
    assert {"routes", "unserved", "metrics"} <= set(schemas["PlanPublic"]["properties"])
    assert {"arrive_minute", "household_id", "shelter_id"} <= set(schemas["StopPublic"]["properties"])
    assert "no_show" in schemas["UnservedCode"]["enum"] and "cut_off" in schemas["UnservedCode"]["enum"]
