"""Property tests of every API operation from the app's own OpenAPI schema (schemathesis), on SQLite and PostgreSQL.

Each operation gets generated requests, valid and invalid, sent in-process (ASGI) with a coordinator's or a
volunteer's bearer token. A request fails the test when its answer is a 5xx, has a status code the operation does
not document, or a body or content type that does not match what it documents. The run is reproducible (fixed
seed, derandomized) and bounded: ``MAX_EXAMPLES`` fuzzed requests per operation plus schemathesis's boundary-value
coverage cases, about two minutes for the four runs (2 backends x 2 roles) on 2 cores.

Random data rarely gets past the checks that matter (a position on the map, ids that exist), so before the run the
database holds records of each kind (accounts, shelters, vehicles, households, an alert with a solved plan), and
hooks steer part of the generated requests: path ids are sometimes those of seeded records (deletions only ever hit
the spare ones, so the others stay for later operations), and bodies of creations are sometimes valid ones with
generated text put in. Every operation is fuzzed; none is excluded. Plan jobs are queued but not solved during the
run (``EVAC_WORKER_MODE=external``), so posting alerts and asking for re-plans stays cheap; the seeded plan is
solved once, before the run.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from api import models
from api.jobs import JobRunner
from api.main import create_app
from tests.api.conftest import make_settings, wipe
from tests.api.factories import household_body, login, make_user, services, shelter_body, vehicle_body

pytestmark = pytest.mark.slow

#: Fuzzed requests per operation (the coverage phase adds its boundary cases on top). Raise it for a deeper run:
#: ``EVAC_SCHEMATHESIS_EXAMPLES=100 python -m pytest tests/api/test_schemathesis.py`` (about 10 minutes).
MAX_EXAMPLES = int(os.environ.get("EVAC_SCHEMATHESIS_EXAMPLES", "15"))
SEED = 20260914
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]

#: Seeded records per roster: ids 1 and 2 are read and changed, 3 and 4 may be deleted.
KEPT, SPARE = [1, 2], [3, 4]
#: A small flood zone in the harbour district.
FLOOD_ZONE = {"type": "Polygon", "coordinates": [[[26.945, 60.530], [26.952, 60.530], [26.952, 60.533],
                                                  [26.945, 60.533], [26.945, 60.530]]]}


def _seed(client: TestClient, app: Any) -> dict[str, str]:
    """Three accounts (ids 1-3), four shelters, vehicles and households, an alert with a solved plan (version 1).

    Returns the bearer token of each role.
    """
    for role in ("coordinator", "volunteer", "registrar"):
        make_user(app, f"{role}@example.org", role)
    headers = {role: login(client, f"{role}@example.org") for role in ("coordinator", "volunteer", "registrar")}
    coordinator, volunteer, registrar = headers["coordinator"], headers["volunteer"], headers["registrar"]
    for i in range(4):
        assert client.post("/shelters", json=shelter_body(i % 4), headers=coordinator).status_code == 201
        assert client.post("/vehicles", json=vehicle_body(i), headers=volunteer).status_code == 201
        by = registrar if i % 2 == 0 else coordinator
        assert client.post("/households", json=household_body(i), headers=by).status_code == 201
    response = client.post("/alerts", json={"deadline_minutes": 180, "name": "seed"}, headers=coordinator)
    assert response.status_code == 202, response.text
    # Solved here, synchronously: the fuzzed app queues plan jobs but solves none.
    svc = services(app)
    assert JobRunner(svc.db, svc.settings).run_once()
    job = client.get(f"/jobs/{response.json()['job']['id']}", headers=coordinator).json()
    assert job["status"] == "done", job
    return {role: h["Authorization"] for role, h in headers.items()}


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _valid_bodies() -> dict[str, list[dict[str, Any]]]:
    """Bodies each creation accepts (given the seeded records), by operation."""
    vehicles = [vehicle_body(i) for i in range(4, 8)]
    households = [household_body(i) for i in range(4, 8)]
    shelters = [shelter_body(i) for i in range(4)]
    return {
        "POST /vehicles": [*vehicles, {**vehicles[0], "owner_id": 2, "label": "van", "available_until_minute": 90}],
        "POST /households": [*households, {**households[0], "registrar_id": 3, "pets": 2, "notes": "ground floor"}],
        "POST /shelters": shelters,
        "POST /alerts": [
            {"deadline_minutes": 120, "household_ids": KEPT},
            {"name": "drill", "deadline_minutes": 90, "flood_zones": [FLOOD_ZONE], "closed_ways": [1, 2],
             "household_ids": None, "start": "2026-09-14T18:00:00+03:00"},
        ],
        "POST /vehicles/import": [{"file": _csv(vehicles)}],
        "POST /households/import": [{"file": _csv([{**b, "needs": ";".join(b["needs"])} for b in households])}],
        "POST /shelters/import": [{"file": _csv(shelters)}],
    }


def _with_text_from(valid: dict[str, Any], generated: Any) -> dict[str, Any]:
    """A valid body with the generated body's text fields put in (names, notes, ... in any script)."""
    if not isinstance(generated, dict):
        return valid
    return {**valid, **{k: v for k, v in generated.items() if k in valid and isinstance(v, str) and k != "file"
                        and isinstance(valid[k], str) and "@" not in valid[k] and not k.endswith("start")}}


def _steer_body(valid: dict[str, list[dict[str, Any]]]) -> Any:
    def hook(context: Any, body: Any) -> st.SearchStrategy[Any]:
        label = f"{context.operation.method.upper()} {context.operation.path}"
        if label in ("POST /users", "POST /users/signup") and isinstance(body, dict):
            # A new e-mail each time, so creations do not all end as duplicates.
            return st.one_of(st.just(body), st.integers(0, 10**9).map(
                lambda n: {**body, "email": f"user{n}@example.org", "password": "long enough password",
                           **({"role": "registrar"} if label == "POST /users" else {})}))
        if label not in valid:
            return st.just(body)
        return st.one_of(st.just(body), st.sampled_from(valid[label]).map(lambda v: _with_text_from(v, body)))

    return hook


def _steer_ids(context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
    """Generated path ids as they are, or ids of seeded records (only spare ones for deletions)."""
    if not isinstance(path_parameters, dict) or not path_parameters:
        return st.just(path_parameters)
    pool = SPARE if context.operation.method.lower() == "delete" else KEPT
    seeded = st.fixed_dictionaries({k: st.sampled_from([1] if k in ("version", "alert_id") else pool)
                                    for k in path_parameters})
    return st.one_of(st.just(path_parameters), seeded)


#: The bearer token of the role being fuzzed, minted afresh for each request (see ``_session_keeper``).
_TOKEN: dict[str, Callable[[], str]] = {}


def _session_keeper(app: Any, email: str) -> Callable[[], str]:
    """A fresh token of the fuzzed account before each request: generated requests may sign it out, end its
    sessions or give it a temporary password (all documented answers), and the operations after that would
    then only ever be answered 401 or 403. The account keeps its role and stays active throughout."""
    svc = services(app)

    def token() -> str:
        with svc.db.sessions() as session:
            account = session.scalars(select(models.User).where(models.User.email == email)).one()
            if account.must_change_password or not account.is_active:
                account.must_change_password, account.is_active = False, True
                session.commit()
            return f"Bearer {svc.tokens.issue(account.id, account.token_version)}"

    return token


@pytest.fixture(params=["coordinator", "volunteer"])
def api_schema(request: pytest.FixtureRequest, database_url: str) -> Iterator[Any]:
    wipe(database_url)
    app = create_app(make_settings(database_url, worker_mode="external", stream_seconds=0.2,
                                   stream_poll_seconds=0.1))
    with TestClient(app) as client:
        tokens = _seed(client, app)
    _TOKEN["current"] = _session_keeper(app, f"{request.param}@example.org")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.update(headers={"Authorization": tokens[request.param]})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    schema.config.seed = SEED
    schema.hook("flatmap_body")(_steer_body(_valid_bodies()))
    schema.hook("flatmap_path_parameters")(_steer_ids)
    try:
        yield schema
    finally:
        schemathesis_asgi.shutdown_lifespans()  # the app's services (database pool) stop here


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": _TOKEN["current"]()}, checks=CHECKS)
