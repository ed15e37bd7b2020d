"""Live operations: manifest -> stop statuses -> events -> re-plans published as the next plan version.

Measured on the bundled Kotka map with real positions from the demo: completed stops stay as they were, riders
on board stay with their driver, a stability figure comes with every re-plan, a new request enters the next
version, a closure changes the plan, a drop-out removes the driver's future stops, a failed re-plan leaves the
previous version current.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import models, planning
from api.config import Settings
from matcher.errors import EvacError
from matcher.live import LiveState
from matcher.plan import Plan
from tests.api.factories import (
    Headers,
    Live,
    household_body,
    kotka,
    live_alert,
    services,
    wait_job,
)


def _route_with_trip(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """A route starting with a pickup and having more stops after it."""
    return next((r for r in manifest["routes"] if r["stops"][0]["type"] == "pickup" and len(r["stops"]) >= 3), None)


def _busy(live: Live) -> tuple[Headers, dict[str, Any], dict[str, Any]]:
    """A driver whose manifest has a route starting with a pickup, their manifest and that route."""
    for who in (live.driver_a, live.driver_b):
        manifest = live.manifest(who)
        route = _route_with_trip(manifest)
        if route is not None:
            return who, manifest, route
    raise AssertionError("no route with a pickup and more stops: the demo households should give one")


def _pickups(plan: dict[str, Any]) -> dict[str, str]:
    """Household plan id -> driver id of every pickup in the plan."""
    return {s["household_id"]: r["driver_id"] for r in plan["routes"] for s in r["stops"] if s["type"] == "pickup"}


def _strip(stop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stop.items() if k not in ("part", "parts")}


# --- manifest -------------------------------------------------------------------------------------------------


def test_manifest_lists_own_stops_with_contacts_times_and_roads(live: Live) -> None:
    """A driver's manifest: only their cars' routes, stops in order with clock times, the households' contacts,
    shelters by name, each leg's road path; a coordinator reads the same through /manifests/{user_id}."""
    plan = live.plan(1)
    for who, uid in ((live.driver_a, live.ids["a"]), (live.driver_b, live.ids["b"])):
        manifest = live.manifest(who)
        assert manifest["plan_version"] == 1 and manifest["alert_status"] == "active" and manifest["user_id"] == uid
        theirs = [r for r in plan["routes"] if r["driver_id"] in {r2["driver_id"] for r2 in manifest["routes"]}]
        assert len(manifest["routes"]) == len(theirs)
        assert all(r["vehicle_id"] == planning.db_id(r["driver_id"]) for r in manifest["routes"])
        for route in manifest["routes"]:
            full = next(r for r in plan["routes"] if r["driver_id"] == route["driver_id"])
            assert [s["index"] for s in route["stops"]] == list(range(len(full["stops"])))
            for stop, planned, leg in zip(route["stops"], full["stops"], full["legs"], strict=True):
                assert stop["arrive_minute"] == planned["arrive_minute"] and stop["status"] is None
                assert stop["leg"]["coordinates"] == leg["coordinates"] and stop["leg"]["minutes"] == leg["minutes"]
                if stop["type"] == "pickup":
                    home = stop["household"]
                    assert home["id"] == planning.db_id(planned["household_id"])
                    assert home["phone"] and home["address"].startswith("Street ")
                    assert home["notes"].startswith("ring twice")
                else:
                    assert stop["shelter"]["name"] and stop["household_ids"] == planned["household_ids"]
        same = live.get(f"/alerts/{live.alert['id']}/manifests/{uid}")
        assert same["routes"] == manifest["routes"]
    first = next(r for r in live.manifest(live.driver_a)["routes"] + live.manifest(live.driver_b)["routes"])
    stop = first["stops"][0]
    start = live.alert["start"]
    expected = datetime.fromisoformat(start) + timedelta(minutes=stop["arrive_minute"])
    assert datetime.fromisoformat(stop["arrive_at"]) == expected


def test_volunteer_cannot_read_another_volunteers_manifest(live: Live) -> None:
    """Another volunteer's manifest is 404 (they may not know it exists); so is a registrar's try."""
    alert_id = live.alert["id"]
    for who in (live.driver_a, live.registrar):
        response = live.client.get(f"/alerts/{alert_id}/manifests/{live.ids['b']}", headers=who)
        assert response.status_code == 404, response.text
    assert live.client.get(f"/alerts/{alert_id}/manifests/{live.ids['a']}", headers=live.driver_a).status_code == 200
    assert live.client.get("/alerts/999999/manifest", headers=live.driver_a).status_code == 404
    assert live.client.get(f"/alerts/{alert_id}/manifests/999999").status_code == 401
    assert live.client.get(f"/alerts/{alert_id}/manifests/999999", headers=live.coordinator).status_code == 404
    # A registrar has no cars: their own manifest is simply empty.
    assert live.manifest(live.registrar)["routes"] == []


def test_assigned_driver_reads_household_only_while_alert_is_active(live: Live) -> None:
    """The driver reads the data of households on their routes (and no other) while the alert is active; once it
    is closed the households and the manifest are 404 for them. Every manifest read is audited."""
    who, manifest, route = _busy(live)
    mine = route["stops"][0]["household"]["id"]
    everyone = {planning.db_id(h) for h in _pickups(live.plan(1))}
    theirs = {s["household"]["id"] for r in manifest["routes"] for s in r["stops"] if s["type"] == "pickup"}
    other = next(iter(everyone - theirs), None)
    assert live.client.get(f"/households/{mine}", headers=who).status_code == 200
    if other is not None:
        assert live.client.get(f"/households/{other}", headers=who).status_code == 404
    # Reading is not changing: the driver may know the household, but not edit it.
    assert live.client.patch(f"/households/{mine}", headers=who, json={"version": 1, "notes": "x"}).status_code == 403
    audit = live.get("/audit?entity=manifest")
    reads = [e for e in audit if e["action"] == "read"]
    assert reads and reads[-1]["detail"]["alert_id"] == live.alert["id"]
    household_reads = live.get(f"/audit?entity=household&entity_id={mine}")
    assert any(e["detail"].get("via") == "manifest" for e in household_reads)
    alert = live.get(f"/alerts/{live.alert['id']}")
    closed = live.client.patch(f"/alerts/{live.alert['id']}", headers=live.coordinator,
                               json={"version": alert["version"], "status": "closed"})
    assert closed.status_code == 200, closed.text
    assert live.client.get(f"/households/{mine}", headers=who).status_code == 404
    assert live.client.get(f"/alerts/{live.alert['id']}/manifest", headers=who).status_code == 404
    # Coordinators still read it afterwards (and that read is audited like any other).
    before = len(live.get("/audit?entity=manifest"))
    assert live.client.get(f"/alerts/{live.alert['id']}/manifests/{live.ids['a']}",
                           headers=live.coordinator).status_code == 200
    assert len(live.get("/audit?entity=manifest")) == before + 1


# --- stop statuses --------------------------------------------------------------------------------------------


def test_stop_status_versions_order_and_who(live: Live) -> None:
    """Reports carry the version read (409 when stale), go in driving order (422), fit the stop type (422), and
    come from the stop's driver (another volunteer: 404) or a coordinator."""
    who, manifest, route = _busy(live)
    other = live.driver_b if who is live.driver_a else live.driver_a
    alert_id = live.alert["id"]
    assert live.report(other, manifest, route, 0, "on_the_way").status_code == 404
    assert live.report(who, manifest, route, 1, "picked_up").status_code == 422  # stop 0 is not done
    drop = next(i for i, s in enumerate(route["stops"]) if s["type"] == "dropoff")
    assert live.report(who, manifest, route, drop, "no_show").status_code == 422  # not a pickup status
    first = live.report(who, manifest, route, 0, "on_the_way")
    assert first.status_code == 200, first.text
    assert first.json()["stop"]["version"] == 1 and first.json()["job"] is None
    stale = live.report(who, manifest, route, 0, "picked_up")  # still says "no status yet"
    assert stale.status_code == 409, stale.text
    fresh = live.manifest(who)
    route = next(r for r in fresh["routes"] if r["driver_id"] == route["driver_id"])
    assert route["stops"][0]["status"] == "on_the_way" and route["stops"][0]["status_version"] == 1
    done = live.report(live.coordinator, fresh, route, 0, "picked_up")
    assert done.status_code == 200 and done.json()["stop"]["version"] == 2
    assert live.manifest(who)["routes"][[r["driver_id"] for r in fresh["routes"]].index(route["driver_id"])][
        "completed"] == 1
    wrong_plan = {**_body(fresh, route, 1, "picked_up"), "plan_version": 2}
    assert live.client.post(f"/alerts/{alert_id}/stops", headers=who, json=wrong_plan).status_code == 404
    listed = live.get(f"/alerts/{alert_id}/stops")
    assert [(s["driver_id"], s["stop_index"], s["status"]) for s in listed] == [(route["driver_id"], 0, "picked_up")]
    assert live.get(f"/alerts/{alert_id}/stops", other) == []
    assert any(e["detail"]["status"] == "picked_up" for e in live.get("/audit?entity=stop_status"))


def _body(manifest: dict[str, Any], route: dict[str, Any], index: int, status: str) -> dict[str, Any]:
    return {"plan_version": manifest["plan_version"], "driver_id": route["driver_id"], "stop_index": index,
            "status": status, "version": route["stops"][index]["status_version"]}


# --- re-plans ------------------------------------------------------------------------------------------------


def test_replan_keeps_completed_stops_and_riders_with_their_driver(live: Live) -> None:
    """Stop 0 picked up, stop 1 on its way: the re-plan keeps stop 0 as it was, the rider stays with the driver
    until a drop-off, statuses carry over, the stability figure is stored and shown; an old version is 409."""
    who, manifest, route = _busy(live)
    driver, rider = route["driver_id"], route["stops"][0]["household_id"]
    assert live.report(who, manifest, route, 0, "picked_up").status_code == 200
    old_plan = live.plan(1)
    old_route = next(r for r in old_plan["routes"] if r["driver_id"] == driver)
    minute = route["stops"][0]["depart_minute"]
    job = live.done(live.client.post(f"/alerts/{live.alert['id']}/replan?minute={minute}", headers=live.coordinator))
    assert job["status"] == "done" and job["kind"] == "replan" and job["plan_version"] == 2, job
    new_plan = live.plan(2)
    new_route = next(r for r in new_plan["routes"] if r["driver_id"] == driver)
    assert _strip(new_route["stops"][0]) == _strip(old_route["stops"][0])
    assert new_route["legs"][0] == old_route["legs"][0]
    drops = [s for s in new_route["stops"][1:] if s["type"] == "dropoff" and rider in s["household_ids"]]
    assert drops, "the rider on board is dropped off by the same driver"
    assert all(s["household_id"] != rider for r in new_plan["routes"] if r["driver_id"] != driver
               for s in r["stops"] if s["type"] == "pickup")
    summary = live.get(f"/alerts/{live.alert['id']}/plans")[-1]
    assert summary["version"] == 2 and summary["base_version"] == 1 and summary["minute"] == pytest.approx(minute)
    assert 0.0 <= summary["stability"] <= 1.0
    assert new_plan["replan"]["stability"] == pytest.approx(summary["stability"], abs=1e-4)
    fresh = live.manifest(who)
    assert fresh["plan_version"] == 2 and fresh["stability"] == summary["stability"]
    kept = next(r for r in fresh["routes"] if r["driver_id"] == driver)
    assert kept["stops"][0]["status"] == "picked_up" and kept["completed"] == 1
    # Reports against version 1 are now refused: the driver must reload.
    late = live.report(who, manifest, route, 1, "picked_up" if route["stops"][1]["type"] == "pickup" else
                       "dropped_off")
    assert late.status_code == 409 and "no longer current" in late.json()["detail"]
    # Nothing happened since: every waiting household keeps its driver.
    again = live.done(live.client.post(f"/alerts/{live.alert['id']}/replan?minute={minute}",
                                       headers=live.coordinator))
    assert again["plan_version"] == 3
    assert live.get(f"/alerts/{live.alert['id']}/plans")[-1]["stability"] == pytest.approx(1.0)


def test_no_show_and_cannot_reach_leave_the_plan_with_a_reason(live: Live) -> None:
    """A no-show at a done stop puts nobody on board and the household is listed unserved (code no_show); a
    cannot-reach says so in its reason. The status report itself can queue the re-plan."""
    who, manifest, route = _busy(live)
    missing = route["stops"][0]["household_id"]
    minute = route["stops"][0]["depart_minute"]
    # A coordinator reports it: only coordinators may set ?minute= (a driver's report happens now).
    response = live.client.post(f"/alerts/{live.alert['id']}/stops?minute={minute}", headers=live.coordinator,
                                json={**_body(manifest, route, 0, "no_show"), "replan": True})
    job = live.done(response)
    assert job["status"] == "done" and job["reason"] == "stop_status", job
    plan = live.plan(job["plan_version"])
    unserved = {u["household_id"]: u for u in plan["unserved"]}
    assert unserved[missing]["code"] == "no_show"
    assert all(missing not in s.get("household_ids", []) for r in plan["routes"] for s in r["stops"])
    kept = next(r for r in plan["routes"] if r["driver_id"] == route["driver_id"])
    assert kept["stops"][0]["household_id"] == missing  # the driver did go there: history stays
    # The next pickup that is still waiting: the driver cannot reach it.
    fresh = live.manifest(who)
    for r in fresh["routes"]:
        index = next((i for i, s in enumerate(r["stops"]) if s["status"] is None and s["type"] == "pickup"), None)
        if index is not None and all(s["status"] is not None for s in r["stops"][:index]):
            break
    else:
        pytest.skip("no reachable waiting pickup left on this driver's routes")
    target = r["stops"][index]["household_id"]
    live.done(live.client.post(f"/alerts/{live.alert['id']}/stops?minute={minute}", headers=live.coordinator,
                               json={**_body(fresh, r, index, "cannot_reach"), "replan": True}))
    latest = live.get(f"/alerts/{live.alert['id']}/plans")[-1]["version"]
    reasons = {u["household_id"]: u for u in live.plan(latest)["unserved"]}
    assert reasons[target]["code"] == "no_show" and reasons[target]["reason"].startswith("cannot reach")
    assert reasons[missing]["code"] == "no_show"  # still missing, although its stop was in an older version


def test_new_household_request_enters_the_next_version(live: Live) -> None:
    """A registrar adds a household during the alert: it is put in scope and the re-plan picks it up."""
    assert live.client.post(f"/alerts/{live.alert['id']}/households?minute=5", headers=live.registrar,
                            json=household_body(20)).status_code == 403  # only coordinators set the minute
    response = live.client.post(f"/alerts/{live.alert['id']}/households?minute=5", headers=live.coordinator,
                                json=household_body(20))
    assert response.status_code == 202, response.text
    household = response.json()["household"]
    job = live.done(response)
    assert job["status"] == "done", job
    plan = live.plan(job["plan_version"])
    new_id = planning.plan_id("household", household["id"])
    assert new_id in _pickups(plan), plan["unserved"]
    assert live.client.post(f"/alerts/{live.alert['id']}/households", headers=live.driver_a,
                            json=household_body(21)).status_code == 403


def test_new_household_joins_a_scoped_alert(app: FastAPI, client: TestClient) -> None:
    """An alert limited to some households gets the new one added to its scope."""
    setup = live_alert(app, client, households=4)
    ids = [h["id"] for h in setup.get("/households")]
    scoped = client.post("/alerts", headers=setup.coordinator, json={"deadline_minutes": 150, "household_ids": ids})
    alert = scoped.json()["alert"]
    wait_job(client, setup.coordinator, scoped.json()["job"]["id"])
    response = client.post(f"/alerts/{alert['id']}/households", headers=setup.coordinator, json=household_body(9))
    assert response.status_code == 202, response.text
    assert response.json()["alert"]["household_ids"] == sorted([*ids, response.json()["household"]["id"]])
    job = wait_job(client, setup.coordinator, response.json()["job"]["id"])
    plan = client.get(f"/alerts/{alert['id']}/plans/{job['plan_version']}", headers=setup.coordinator).json()
    assert planning.plan_id("household", response.json()["household"]["id"]) in _pickups(plan)


def _square(lat: float, lon: float, d: float) -> dict[str, Any]:
    ring = [[lon - 2 * d, lat - d], [lon + 2 * d, lat - d], [lon + 2 * d, lat + d], [lon - 2 * d, lat + d],
            [lon - 2 * d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_closure_changes_the_plan(live: Live) -> None:
    """A flood zone reported around a waiting household closes its street: the next version no longer drives to
    its door but to a meeting point outside the water."""
    plan = live.plan(1)
    waiting = sorted(_pickups(plan))
    cars = {(d["lat"], d["lon"]) for d in kotka()["drivers"][:4]}
    target = None
    for hid in waiting:
        home = next(s for r in plan["routes"] for s in r["stops"] if s.get("household_id") == hid)
        if all(abs(lat - home["lat"]) > 0.004 or abs(lon - home["lon"]) > 0.008 for lat, lon in cars):
            target = (hid, home)
            break
    assert target is not None
    hid, home = target
    zone = _square(home["lat"], home["lon"], 0.0015)
    response = live.client.post(f"/alerts/{live.alert['id']}/closures?minute=0", headers=live.coordinator,
                                json={"flood_zones": [zone], "closed_ways": [1]})
    assert response.status_code == 202, response.text
    assert zone in response.json()["alert"]["flood_zones"] and 1 in response.json()["alert"]["closed_ways"]
    job = live.done(response)
    assert job["status"] == "done", job
    after = live.plan(job["plan_version"])
    # Its street is under water but an open corner is within its walk: the car meets it there, not at the door.
    pickups = [s for r in after["routes"] for s in r["stops"] if s["type"] == "pickup" and s["household_id"] == hid]
    assert pickups and all(s["meeting_point"]["walk_meters"] <= 250 for s in pickups)
    assert all(abs(s["lat"] - home["lat"]) > 0.0015 or abs(s["lon"] - home["lon"]) > 0.003 for s in pickups)
    assert after["routes"] != plan["routes"]
    for who in (live.driver_a, live.registrar):
        assert live.client.post(f"/alerts/{live.alert['id']}/closures", headers=who,
                                json={"closed_ways": [2]}).status_code == 403
    empty = live.client.post(f"/alerts/{live.alert['id']}/closures", headers=live.coordinator, json={})
    assert empty.status_code == 422


def test_dropout_removes_the_drivers_future_stops(live: Live) -> None:
    """A driver with a rider on board drops out: they deliver that rider and nothing more; their other
    households go to other cars (or are listed unserved), and the manifest says they dropped out."""
    who, manifest, route = _busy(live)
    driver, rider = route["driver_id"], route["stops"][0]["household_id"]
    before = {h for h, d in _pickups(live.plan(1)).items() if d == driver}
    assert live.report(who, manifest, route, 0, "picked_up").status_code == 200
    minute = route["stops"][0]["depart_minute"]
    response = live.client.post(f"/alerts/{live.alert['id']}/dropouts?minute={minute}", headers=live.coordinator,
                                json={"vehicle_id": planning.db_id(driver), "note": "flat tyre"})
    assert response.status_code == 202, response.text
    assert [d["driver_id"] for d in response.json()["dropouts"]] == [driver]
    job = live.done(response)
    assert job["status"] == "done", job
    plan = live.plan(job["plan_version"])
    kept = next(r for r in plan["routes"] if r["driver_id"] == driver)
    assert [s["type"] for s in kept["stops"]] == ["pickup", "dropoff"]
    assert kept["stops"][1]["household_ids"] == [rider]
    moved = _pickups(plan)
    unserved = {u["household_id"] for u in plan["unserved"]}
    for household in before - {rider}:
        assert household in unserved or moved[household] != driver
    again = live.client.post(f"/alerts/{live.alert['id']}/dropouts", headers=who,
                             json={"vehicle_id": planning.db_id(driver)})
    assert again.status_code == 409
    stranger = live.driver_b if who is live.driver_a else live.driver_a
    assert live.client.post(f"/alerts/{live.alert['id']}/dropouts", headers=stranger,
                            json={"vehicle_id": planning.db_id(driver)}).status_code == 404
    mine = next(r for r in live.manifest(who)["routes"] if r["driver_id"] == driver)
    assert mine["dropped_out"] is True
    # Mid-evacuation a plan from scratch is refused (it would forget the rider on board): re-plan instead.
    assert live.client.post(f"/alerts/{live.alert['id']}/jobs", headers=live.coordinator).status_code == 409


def test_a_plan_from_scratch_leaves_dropped_out_cars_out(live: Live) -> None:
    """Before any stop is reported a coordinator may still plan from scratch: the dropped-out car is left out."""
    _, _, route = _busy(live)
    driver = route["driver_id"]
    response = live.client.post(f"/alerts/{live.alert['id']}/dropouts?minute=0", headers=live.coordinator,
                                json={"vehicle_id": planning.db_id(driver)})
    assert live.done(response)["status"] == "done"
    scratch = live.done(live.client.post(f"/alerts/{live.alert['id']}/jobs", headers=live.coordinator))
    assert driver not in {r["driver_id"] for r in live.plan(scratch["plan_version"])["routes"]}


def test_failed_replan_leaves_the_previous_version_current(live: Live) -> None:
    """A re-plan that fails publishes nothing: the versions and the drivers' manifests stay as they were."""

    def broken(*_args: Any) -> planning.SolvedPlan:
        raise EvacError("the re-plan failed its check")

    runner = services(live.app).runner
    assert runner is not None
    runner.replanner = broken
    job = live.done(live.client.post(f"/alerts/{live.alert['id']}/replan", headers=live.coordinator))
    assert job["status"] == "failed" and job["error"] == "the re-plan failed its check"
    assert [p["version"] for p in live.get(f"/alerts/{live.alert['id']}/plans")] == [1]
    assert live.manifest(live.driver_a)["plan_version"] == 1


def test_replan_is_solved_again_when_stops_are_reported_meanwhile(live: Live) -> None:
    """A stop reported done while a re-plan is solved makes it stale: it is solved again on the new state, so
    the published version already keeps that stop."""
    who, manifest, route = _busy(live)
    runner = services(live.app).runner
    assert runner is not None
    calls: list[LiveState] = []

    def reporting(scenario: dict, previous: Plan, state: LiveState, settings: Settings) -> Any:
        calls.append(state)
        if len(calls) == 1:  # the driver reports the pickup while the first solve runs
            assert live.report(who, manifest, route, 0, "picked_up").status_code == 200
        return planning.replan_scenario(scenario, previous, state, settings)

    runner.replanner = reporting
    job = live.done(live.client.post(f"/alerts/{live.alert['id']}/replan?minute=1", headers=live.coordinator))
    assert job["status"] == "done", job
    assert [c.completed.get(route["driver_id"], 0) for c in calls] == [0, 1]
    fresh = next(r for r in live.manifest(who)["routes"] if r["driver_id"] == route["driver_id"])
    assert fresh["stops"][0]["status"] == "picked_up"


def test_events_on_a_closed_alert_are_refused(live: Live) -> None:
    alert_id = live.alert["id"]
    alert = live.get(f"/alerts/{alert_id}")
    live.client.patch(f"/alerts/{alert_id}", headers=live.coordinator,
                      json={"version": alert["version"], "status": "closed"})
    for path, body in ((f"/alerts/{alert_id}/closures", {"closed_ways": [5]}),
                       (f"/alerts/{alert_id}/dropouts", {"vehicle_id": 1}),
                       (f"/alerts/{alert_id}/households", household_body(30))):
        response = live.client.post(path, headers=live.coordinator, json=body)
        assert response.status_code in (404, 422), (path, response.text)
    assert live.client.post(f"/alerts/{alert_id}/replan", headers=live.coordinator).status_code == 422
    assert live.client.post(f"/alerts/{alert_id}/replan", headers=live.driver_a).status_code == 403


def test_replan_jobs_waiting_are_joined(live: Live) -> None:
    """Events in a burst share one waiting re-plan: it reads the live state only when it is solved."""
    runner = services(live.app).runner
    assert runner is not None
    runner.request_stop()  # nothing is claimed while the events come in
    runner.stop()
    first = live.client.post(f"/alerts/{live.alert['id']}/replan", headers=live.coordinator).json()
    second = live.client.post(f"/alerts/{live.alert['id']}/closures", headers=live.coordinator,
                              json={"closed_ways": [3]}).json()
    explicit = live.client.post(f"/alerts/{live.alert['id']}/replan?minute=2", headers=live.coordinator).json()
    # One queued re-plan per alert: a coordinator's minute joins it too, and moves it to that minute.
    assert second["job"]["id"] == first["id"] == explicit["id"]
    with services(live.app).db.sessions() as session:
        jobs = {j.id: j for j in session.query(models.PlanJob)}
    assert jobs[first["id"]].kind == "replan" and jobs[first["id"]].minute == 2
    assert sum(j.status == "queued" for j in jobs.values()) == 1


def test_records_deleted_mid_alert_stay_in_history(live: Live) -> None:
    """A household on board deleted from the roster, and a driver deactivated: the re-plan (at the minute it is
    solved) still keeps the pickup and delivers the rider; the deactivated driver's cars get no new stops."""
    who, manifest, route = _busy(live)
    driver, rider = route["driver_id"], route["stops"][0]["household_id"]
    assert live.report(who, manifest, route, 0, "picked_up").status_code == 200
    home = live.get(f"/households/{planning.db_id(rider)}")
    deleted = live.client.delete(f"/households/{home['id']}?version={home['version']}", headers=live.coordinator)
    assert deleted.status_code == 204
    other = "b" if who is live.driver_a else "a"
    account = live.get(f"/users/{live.ids[other]}")
    off = live.client.patch(f"/users/{live.ids[other]}", headers=live.coordinator,
                            json={"version": account["version"], "is_active": False})
    assert off.status_code == 200, off.text
    job = live.done(live.client.post(f"/alerts/{live.alert['id']}/replan", headers=live.coordinator))
    assert job["status"] == "done" and job["minute"] is None, job
    plan = live.plan(job["plan_version"])
    kept = next(r for r in plan["routes"] if r["driver_id"] == driver)
    assert kept["stops"][0]["household_id"] == rider
    assert any(rider in s["household_ids"] for s in kept["stops"] if s["type"] == "dropoff")
    gone = {f"V{v['id']}" for v in live.get(f"/vehicles?owner_id={live.ids[other]}")}
    assert not gone & {r["driver_id"] for r in plan["routes"]}
    assert live.get(f"/alerts/{live.alert['id']}/plans")[-1]["minute"] >= 0
    stop = next(r for r in live.manifest(who)["routes"] if r["driver_id"] == driver)["stops"][0]
    assert stop["household"] is None and stop["status"] == "picked_up"  # the data is gone, the stop stays


# --- mid-evacuation safety -----------------------------------------------------------------------------------


def test_a_plan_from_scratch_is_refused_once_stops_are_reported(live: Live) -> None:
    """Before any report a coordinator may plan again from scratch; after one the answer is 409 naming /replan,
    and nothing is queued."""
    alert_id = live.alert["id"]
    again = live.client.post(f"/alerts/{alert_id}/jobs", headers=live.coordinator)
    assert again.status_code == 202, again.text
    assert wait_job(live.client, live.coordinator, again.json()["id"])["plan_version"] == 2
    who, manifest, route = _busy(live)
    assert live.report(who, manifest, route, 0, "on_the_way").status_code == 200
    jobs_before = live.get(f"/alerts/{alert_id}/jobs")
    refused = live.client.post(f"/alerts/{alert_id}/jobs", headers=live.coordinator)
    assert refused.status_code == 409, refused.text
    assert f"/alerts/{alert_id}/replan" in refused.json()["detail"]
    assert live.get(f"/alerts/{alert_id}/jobs") == jobs_before
    assert live.client.post(f"/alerts/{alert_id}/replan", headers=live.coordinator).status_code == 202


def _undo(live: Live, who: Headers, manifest: dict[str, Any], route: dict[str, Any], index: int,
          **extra: Any) -> Any:
    body = {"plan_version": manifest["plan_version"], "driver_id": route["driver_id"], "stop_index": index,
            "version": route["stops"][index]["status_version"], **extra}
    return live.client.post(f"/alerts/{live.alert['id']}/stops/undo", headers=who, json=body)


@pytest.mark.parametrize("status", ["no_show", "cannot_reach"])
def test_a_mistaken_miss_is_taken_back_and_the_household_returns(live: Live, status: str) -> None:
    """"Not there" by mistake: after the re-plan the household is unserved (no_show); the driver takes the report
    back on the new version, the stop is waiting again, and the next re-plan serves the household."""
    who, manifest, route = _busy(live)
    missing = route["stops"][0]["household_id"]
    minute = route["stops"][0]["arrive_minute"]
    # A coordinator reports it (only coordinators set the minute), on the driver's behalf.
    job = live.done(live.client.post(f"/alerts/{live.alert['id']}/stops?minute={minute}", headers=live.coordinator,
                                     json={**_body(manifest, route, 0, status), "replan": True}))
    assert missing in {u["household_id"] for u in live.plan(job["plan_version"])["unserved"]}
    fresh = live.manifest(who)
    mine = next(r for r in fresh["routes"] if r["driver_id"] == route["driver_id"])
    assert mine["stops"][0]["status"] == status  # carried onto the new version as history

    undone = _undo(live, who, fresh, mine, 0)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone"] == status and undone.json()["removed"] == 2  # this version's and the first's
    job = live.done(undone)
    assert job["status"] == "done" and job["reason"] == "undo_stop", job
    plan = live.plan(job["plan_version"])
    assert missing not in {u["household_id"] for u in plan["unserved"]}
    assert missing in _pickups(plan)
    statuses = live.get(f"/alerts/{live.alert['id']}/stops")
    assert all(s["status"] not in ("no_show", "cannot_reach") for s in statuses)
    audit = [a for a in live.get("/audit?entity=stop_status") if a["action"] == "delete"]
    assert len(audit) == 2 and all(a["detail"]["undo"] for a in audit)


def test_only_a_miss_on_the_last_done_stop_can_be_taken_back(live: Live) -> None:
    """Nothing to take back on a pickup that went well (409); a miss with done stops after it stays (422); another
    volunteer gets 404; a stale status version 409."""
    who, manifest, route = _busy(live)
    assert live.report(who, manifest, route, 0, "picked_up").status_code == 200
    manifest = live.manifest(who)
    route = next(r for r in manifest["routes"] if r["driver_id"] == route["driver_id"])
    assert _undo(live, who, manifest, route, 0).status_code == 409
    waiting = next(i for i, s in enumerate(route["stops"]) if s["type"] == "pickup" and s["status"] is None)
    if any(s["status"] is None for s in route["stops"][:waiting]):
        pytest.skip("the next pickup comes after a drop-off not yet done")
    assert live.report(who, manifest, route, waiting, "no_show").status_code == 200
    manifest = live.manifest(who)
    route = next(r for r in manifest["routes"] if r["driver_id"] == route["driver_id"])
    other = live.driver_b if who == live.driver_a else live.driver_a
    assert _undo(live, other, manifest, route, waiting).status_code == 404
    stale = _undo(live, who, manifest, route, waiting, version=route["stops"][waiting]["status_version"] + 1)
    assert stale.status_code == 409
    after = waiting + 1
    if after < len(route["stops"]) and route["stops"][after]["type"] == "dropoff":
        assert live.report(who, manifest, route, after, "dropped_off").status_code == 200
        manifest = live.manifest(who)
        route = next(r for r in manifest["routes"] if r["driver_id"] == route["driver_id"])
        assert _undo(live, who, manifest, route, waiting).status_code == 422
