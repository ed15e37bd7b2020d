"""The pages router without a browser: page shells and their headers, static files, the road map for drawing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import planning
from api.config import Settings
from api.main import create_app
from api.routes.pages import PAGES


@pytest.fixture
def client(web_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", [f"/app/{key}" for key in PAGES] + ["/app/households/12"])
def test_every_page_is_a_shell_with_a_strict_policy(client: TestClient, path: str) -> None:
    """Pages carry no data (their scripts ask the API) and forbid inline script and other sites."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in response.text and 'type="module"' in response.text
    assert '<html lang="en">' in response.text


def test_root_redirects_and_unknown_pages_are_404(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/"
    assert client.get("/app/nothing-here").status_code == 404
    assert client.get("/app/households/new").status_code == 200


@pytest.mark.parametrize("name", ["../templates/base.html", "..%2Ftemplates%2Fbase.html", "/etc/passwd",
                                  "missing.js"])
def test_only_files_of_the_static_folder_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/app/static/{name}").status_code == 404


def test_static_files_and_service_worker(client: TestClient) -> None:
    js = client.get("/app/static/common.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    worker = client.get("/app/sw.js")
    assert worker.status_code == 200 and "/app/static/manifest.js" in worker.text and "/map/roads" in worker.text


def test_road_map_is_the_solvers_road_graph(client: TestClient, web_settings: Settings) -> None:
    """Every way the solver drives on is drawn, with its OSM id; positions are inside the bounding box."""
    response = client.get("/map/roads")
    assert response.status_code == 200
    data = response.json()
    graph = planning.road_graph(web_settings)
    assert {w["id"] for w in data["ways"]} == {int(w) for w in set(graph.edge_way.tolist())}
    west, south, east, north = data["bbox"]
    points = [p for w in data["ways"] for line in w["lines"] for p in line]
    assert all(west <= lon <= east and south <= lat <= north for lon, lat in points)
    assert all(len(line) >= 2 for w in data["ways"] for line in w["lines"])
    assert any(w["name"] for w in data["ways"]) and "OpenStreetMap" in data["attribution"]


def test_road_map_needs_no_sign_in_but_personal_data_does(client: TestClient) -> None:
    """The road map is public map data; everything personal still needs a token."""
    assert client.get("/map/roads").status_code == 200
    assert client.get("/households").status_code == 401
