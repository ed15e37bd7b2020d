"""``evac plan`` by zones: a zones file, a zoned scenario on 0 workers, and a bad zones file's one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.instances import write_scenario
from matcher.check import assert_plan_valid
from matcher.cli import app
from matcher.plan import Plan
from matcher.region import region_from_dict
from matcher.roads.load import parse_road_graph
from tests.matcher.regionkit import KOTKA, zoned_scenario


@pytest.fixture
def cache_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAC_CACHE_DIR", str(tmp_path_factory.mktemp("evac-cache")))


def test_plan_by_zones_file_in_process(tmp_path: Path, cache_env: None) -> None:
    """`--zones FILE --workers 0`: a checked plan with one entry per zone, a zones bar on stderr."""
    graph = parse_road_graph(KOTKA)
    data = zoned_scenario(graph, households=60, cars=12, zones=2)
    for record in data["households"] + data["drivers"]:
        del record["zone"]
    scenario = write_scenario(data, tmp_path / "s.yaml")
    middle = sorted(h["lon"] for h in data["households"])[30]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "West"}, "geometry": {"type": "Polygon", "coordinates": [
            [[20, 59], [middle, 59], [middle, 61], [20, 61], [20, 59]]]}},
        {"type": "Feature", "properties": {"name": "East"}, "geometry": {"type": "Polygon", "coordinates": [
            [[middle, 59], [30, 59], [30, 61], [middle, 61], [middle, 59]]]}}]}
    (tmp_path / "z.geojson").write_text(json.dumps(zones))
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(scenario), "--zones", str(tmp_path / "z.geojson"), "--workers",
                                      "0", "--time-limit", "1", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "zones [####################] 2/2" in result.stderr
    assert "plan check: ok" in result.stderr
    plan = Plan.from_dict(json.loads(out.read_text()))
    assert {z["zone"].split("+")[0] for z in plan.extra["zones"]} <= {"West", "East"}
    region = region_from_dict(data, graph)
    assert_plan_valid(region.problem, plan, graph, region.closures.closed if region.closures else None)


def test_bad_zones_file_is_one_line_exit_2(tmp_path: Path, cache_env: None) -> None:
    graph = parse_road_graph(KOTKA)
    scenario = write_scenario(zoned_scenario(graph, households=20, cars=4), tmp_path / "s.yaml")
    (tmp_path / "z.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Bow"},
         "geometry": {"type": "Polygon", "coordinates": [[[26, 60], [27, 61], [27, 60], [26, 61], [26, 60]]]}}]}))
    result = CliRunner().invoke(app, ["plan", str(scenario), "--zones", str(tmp_path / "z.geojson"),
                                      "--workers", "0"])
    assert result.exit_code == 2
    assert "zones file feature #1 'Bow': geometry: is not a valid polygon" in result.stderr
