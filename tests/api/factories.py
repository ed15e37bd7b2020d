"""Accounts, sign-in headers and real Kotka positions (from the demo scenario) for API tests."""

from __future__ import annotations

import csv
import functools
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import crud, schemas
from api.services import Services

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
Headers = dict[str, str]


@functools.cache
def kotka() -> dict[str, Any]:
    """The bundled demo scenario: 300 households, 60 drivers and 4 shelters at real Kotka positions."""
    return yaml.safe_load((ROOT / "scenarios" / "kotka_storm.yaml").read_text(encoding="utf-8"))


def services(app: FastAPI) -> Services:
    return app.state.services


def make_user(app: FastAPI, email: str, role: str = "volunteer", password: str = PASSWORD) -> int:
    """Create an account directly (no HTTP) and return its id."""
    svc = services(app)
    svc.start()
    with svc.db.sessions() as session:
        data = schemas.UserCreate(email=email, password=password, role=role, name=email.split("@")[0])
        return crud.create_user(session, svc.passwords, data, role, None).id


def login(client: TestClient, email: str, password: str = PASSWORD) -> Headers:
    response = client.post("/login/access-token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def user(app: FastAPI, client: TestClient, email: str, role: str = "volunteer") -> Headers:
    """A new account of ``role``, signed in."""
    make_user(app, email, role)
    return login(client, email)


def shelter_body(i: int = 0) -> dict[str, Any]:
    s = kotka()["shelters"][i]
    return {k: s[k] for k in ("name", "lat", "lon", "capacity", "wheelchair_accessible", "pets_allowed",
                              "pet_capacity", "medical_support", "languages")}


def vehicle_body(i: int = 0) -> dict[str, Any]:
    d = kotka()["drivers"][i]
    return {k: d[k] for k in ("lat", "lon", "seats", "wheelchair_spaces", "available_from_minute", "takes_pets",
                              "languages")}


def household_body(i: int = 0) -> dict[str, Any]:
    h = kotka()["households"][i]
    body = {k: h[k] for k in ("name", "phone", "lat", "lon", "people", "wheelchair_users", "priority", "language")}
    body["needs"] = list(h.get("needs", []))
    body["pets"] = h.get("pets", 0)
    return body


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (";".join(v) if isinstance(v, list) else v) for k, v in row.items()})
    return out.getvalue()


def upload(client: TestClient, path: str, headers: Headers, text: str | bytes) -> Any:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(path, headers=headers, files={"file": ("roster.csv", content, "text/csv")})


def import_kotka(client: TestClient, coordinator: Headers, households: int,
                 cars: Sequence[Mapping[str, Any]] = (),
                 household: Callable[[int], Mapping[str, Any]] = lambda _i: {}) -> None:
    """The demo's shelters, then one car per entry of ``cars`` (demo car ``i`` with the entry's columns, such as
    ``owner_email``), then its first ``households`` households (with ``household(i)``'s columns over the demo's),
    each through its CSV import."""
    shelters = [shelter_body(i) for i in range(len(kotka()["shelters"]))]
    assert upload(client, "/shelters/import", coordinator, csv_text(shelters)).status_code == 200
    if cars:
        rows = [{**extra, **vehicle_body(i)} for i, extra in enumerate(cars)]
        response = upload(client, "/vehicles/import", coordinator, csv_text(rows))
        assert response.status_code == 200, response.text
    homes = [{**household_body(i), **household(i)} for i in range(households)]
    response = upload(client, "/households/import", coordinator, csv_text(homes))
    assert response.status_code == 200, response.text


def seed_kotka(client: TestClient, coordinator: Headers, volunteer_email: str, households: int, vehicles: int) -> None:
    """Shelters, a volunteer's vehicles and households from the demo, through the CSV imports."""
    import_kotka(client, coordinator, households, [{"owner_email": volunteer_email}] * vehicles)


def start_alert(client: TestClient, coordinator: Headers, body: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                                            dict[str, Any]]:
    """``POST /alerts`` and wait for its first plan: the alert and the finished job (asserted done)."""
    created = client.post("/alerts", headers=coordinator, json=dict(body))
    assert created.status_code == 202, created.text
    job = wait_job(client, coordinator, created.json()["job"]["id"])
    assert job["status"] == "done", job
    return created.json()["alert"], job


def flooded_alert(client: TestClient, coordinator: Headers) -> tuple[dict[str, Any], dict[str, Any]]:
    """The demo's storm as an alert (150 minutes, its flood zones), planned: the alert and its job."""
    body = {"name": "storm", "deadline_minutes": 150, "flood_zones": kotka()["alert"]["flood_zones"]}
    return start_alert(client, coordinator, body)


def four_cars(first: str, second: str, columns: Callable[[int], Mapping[str, Any]] = lambda _i: {}
              ) -> list[dict[str, Any]]:
    """Columns of four demo cars for ``import_kotka``: two owned by ``first``, two by ``second``."""
    return [{"owner_email": first if i < 2 else second, **columns(i)} for i in range(4)]


@dataclass
class Live:
    """An active alert with a published plan: a coordinator, two drivers with two cars each, a registrar."""

    app: FastAPI
    client: TestClient
    coordinator: Headers
    driver_a: Headers
    driver_b: Headers
    registrar: Headers
    alert: dict[str, Any]
    ids: dict[str, int]

    def get(self, path: str, headers: Headers | None = None) -> Any:
        response = self.client.get(path, headers=headers or self.coordinator)
        assert response.status_code == 200, response.text
        return response.json()

    def plan(self, version: int) -> dict[str, Any]:
        return self.get(f"/alerts/{self.alert['id']}/plans/{version}")

    def manifest(self, who: Headers) -> dict[str, Any]:
        return self.get(f"/alerts/{self.alert['id']}/manifest", who)

    def report(self, who: Headers, manifest: dict[str, Any], route: dict[str, Any], index: int, status: str,
               **extra: Any) -> Any:
        stop = route["stops"][index]
        body = {"plan_version": manifest["plan_version"], "driver_id": route["driver_id"], "stop_index": index,
                "status": status, "version": stop["status_version"], **extra}
        return self.client.post(f"/alerts/{self.alert['id']}/stops", headers=who, json=body)

    def done(self, response: Any) -> dict[str, Any]:
        """The job an event queued, once finished."""
        assert response.status_code in (200, 202), response.text
        body = response.json()
        job = body.get("job", body)
        return wait_job(self.client, self.coordinator, job["id"])


def live_alert(app: FastAPI, client: TestClient, households: int = 12) -> Live:
    """The demo's storm planned for the first ``households`` households and four cars of two drivers."""
    coordinator = user(app, client, "coord@example.org", "coordinator")
    ids = {"a": make_user(app, "a@example.org"), "b": make_user(app, "b@example.org")}
    registrar = user(app, client, "reg@example.org", "registrar")
    import_kotka(client, coordinator, households, four_cars("a@example.org", "b@example.org"),
                 lambda i: {"address": f"Street {i}", "notes": f"ring twice {i}"})
    alert, job = flooded_alert(client, coordinator)
    assert job["plan_version"] == 1, job
    return Live(app, client, coordinator, login(client, "a@example.org"), login(client, "b@example.org"),
                registrar, alert, ids)


def wait_job(client: TestClient, headers: Headers, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a plan job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"plan job {job_id} did not finish in {timeout} s: {job}")
