"""Accounts, sign-in headers and real Kotka positions (from the demo scenario) for API tests."""

from __future__ import annotations

import csv
import functools
import io
import time
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


def seed_kotka(client: TestClient, coordinator: Headers, volunteer_email: str, households: int, vehicles: int) -> None:
    """Shelters, a volunteer's vehicles and households from the demo, through the CSV imports."""
    data = kotka()
    shelters = [shelter_body(i) for i in range(len(data["shelters"]))]
    assert upload(client, "/shelters/import", coordinator, csv_text(shelters)).status_code == 200
    cars = [{"owner_email": volunteer_email, **vehicle_body(i)} for i in range(vehicles)]
    if cars:
        assert upload(client, "/vehicles/import", coordinator, csv_text(cars)).status_code == 200
    homes = [household_body(i) for i in range(households)]
    response = upload(client, "/households/import", coordinator, csv_text(homes))
    assert response.status_code == 200, response.text


def wait_job(client: TestClient, headers: Headers, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a plan job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"plan job {job_id} did not finish in {timeout} s: {job}")
