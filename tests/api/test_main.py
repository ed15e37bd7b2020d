"""Bad input never gives a 500: each malformed request gets a 4xx whose message names the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.factories import user, vehicle_body

BIG = 10**30


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/vehicles", "{not json", 422, None),  # unparsable JSON
        ("post", "/vehicles", '{"seats": NaN, "lat": 60.53, "lon": 26.95}', 422, "seats"),  # NaN literal
        ("post", "/vehicles", '{"seats": 3, "lat": Infinity, "lon": 26.95}', 422, "lat"),  # Infinity literal
        ("post", "/vehicles", {**vehicle_body(0), "seats": BIG}, 422, "seats"),  # beyond any integer column
        ("post", "/vehicles", {**vehicle_body(0), "seats": "four"}, 422, "seats"),
        ("post", "/vehicles", {**vehicle_body(0), "label": "a\x00b"}, 422, "label"),  # NUL: PostgreSQL refuses it
        ("post", "/vehicles", {**vehicle_body(0), "seets": 3}, 422, "seets"),  # misspelt field
        ("post", "/vehicles", {**vehicle_body(0), "seats": 0, "wheelchair_spaces": 0}, 422, "seats"),  # matcher rule
        ("post", "/vehicles", {**vehicle_body(0), "available_from_minute": 90, "available_until_minute": 30}, 422,
         "available_until_minute"),
        ("post", "/vehicles", [1, 2, 3], 422, None),  # not an object
        ("get", f"/vehicles/{BIG}", None, 422, "vehicle_id"),  # path id beyond any integer column
        ("get", "/vehicles/-1", None, 422, "vehicle_id"),
        ("get", "/vehicles?limit=0", None, 422, "limit"),
        ("patch", "/vehicles/1", {"seats": 3}, 422, "version"),  # an update must say which version it read
        ("delete", "/vehicles/1", None, 422, "version"),
        ("post", "/alerts", {"deadline_minutes": -5}, 422, "deadline_minutes"),
        ("post", "/alerts", {"deadline_minutes": 60, "closed_ways": [BIG]}, 422, "closed_ways"),
        ("post", "/alerts", {"deadline_minutes": 60, "flood_zones": [{"type": "Point", "coordinates": [1, 2]}]},
         422, "flood_zones"),
        ("post", "/users", {"email": "not-an-email", "password": "long enough"}, 422, "email"),
        ("post", "/users", {"email": "a@b.org", "password": "short"}, 422, "password"),
        ("get", "/audit?entity_id=abc", None, 422, "entity_id"),
    ],
)
def test_malformed_requests_are_4xx_naming_the_field(
    app: FastAPI, client: TestClient, method: str, path: str, body: Any, status: int, field: str | None
) -> None:
    headers = user(app, client, "coord@example.org", "coordinator")
    kwargs: dict[str, Any] = {"headers": {**headers, "Content-Type": "application/json"}}
    if isinstance(body, str):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in str(response.json()["detail"]), response.text


def test_login_form_errors_and_unknown_paths(client: TestClient) -> None:
    assert client.post("/login/access-token", data={"username": "x"}).status_code == 422
    assert client.get("/no-such-thing").status_code == 404
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    assert client.get("/openapi.json").status_code == 200
