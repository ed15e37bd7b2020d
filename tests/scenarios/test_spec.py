"""Drill files: the bundled ones load; a bad field is refused with an error naming it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError
from matcher.solver import SolveParams
from scenarios.spec import drill_from_dict, load_drill
from scenarios.world import DrillContext
from tests.scenarios.conftest import BUNDLED, DRILLS


@pytest.fixture(scope="module")
def storm_data() -> dict[str, Any]:
    return yaml.safe_load((DRILLS / "storm_night.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_drills_load(name: str) -> None:
    """Every bundled drill is valid, has a timeline, and is also a plain scenario file (evac plan reads it)."""
    spec = load_drill(DRILLS / f"{name}.yaml")
    assert spec.timeline and spec.runs >= 1
    assert spec.scenario["map"] == "../../data/kotka.osm.pbf"
    assert "drill" not in spec.scenario


def test_bundled_drills_are_two() -> None:
    assert set(BUNDLED) >= {"storm_night", "short_handed"}


def _bad(data: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(("path", "value", "field"), [
    (["drill", "timeline", 0, "minute"], KeyError, "timeline[0].minute"),
    (["drill", "timeline", 0, "minute"], -5, "timeline[0].minute"),
    (["drill", "timeline", 1, "driver_drops_out"], "D999", "timeline[1].driver_drops_out"),
    (["drill", "timeline", 0, "no_show"], "H001", "timeline[0]"),  # two actions in one entry
    (["drill", "timeline", 5, "new_request", "wheelchair_users"], 5, "timeline[5].new_request.wheelchair_users"),
    (["drill", "timeline", 5, "new_request", "id"], "H001", "timeline[5].new_request.id"),
    (["drill", "timeline", 4, "flood_zone"], {"type": "Point", "coordinates": [0, 0]}, "timeline[4].flood_zone"),
    (["drill", "randomness", "no_show_probability"], 1.5, "randomness.no_show_probability"),
    (["drill", "randomness", "travel_noise", "cobblestone"], 0.2, "randomness.travel_noise.cobblestone"),
    (["drill", "runs"], 0, "runs"),
    (["drill", "date"], "next tuesday", "date"),
])
def test_bad_field_is_named(storm_data: dict[str, Any], path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(InputError) as err:
        drill_from_dict(_bad(storm_data, path, value), DRILLS)
    assert err.value.record == "drill"
    assert err.value.field == field


def test_shelter_fills_needs_capacity(storm_data: dict[str, Any]) -> None:
    data = copy.deepcopy(storm_data)
    data["drill"]["timeline"].append({"minute": 50, "shelter_fills": "S1"})
    with pytest.raises(InputError, match="capacity"):
        drill_from_dict(data, DRILLS)


def test_unknown_way_is_named_once_the_map_is_read(storm_data: dict[str, Any]) -> None:
    """A closed way that is no road of the map would silently close nothing: it is refused."""
    data = _bad(storm_data, ["drill", "timeline", 2, "close_roads"], [1])
    with pytest.raises(InputError) as err:
        DrillContext(drill_from_dict(data, DRILLS))
    assert err.value.field == "timeline[2].close_roads"


def test_cli_reports_a_bad_drill_in_one_line(tmp_path: Path, storm_data: dict[str, Any]) -> None:
    """Exit code 2 and one line naming the field, like evac plan."""
    path = tmp_path / "bad.yaml"
    data = _bad(storm_data, ["drill", "randomness", "dropout_probability"], "often")
    data["map"] = str((DRILLS / "../../data/kotka.osm.pbf").resolve())
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["drill", str(path), "--workers", "0", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "drill: randomness.dropout_probability:" in result.output
    assert not (tmp_path / "out").exists()


def test_drill_solves_use_the_drill_safety_stop_not_the_services() -> None:
    """The service stops a search at twice its limit plus a second; a drill waits far longer, for repeatability."""
    spec = load_drill(DRILLS / "storm_night.yaml")
    params = spec.params(spec.replan_time_limit_seconds, improve=False)
    assert params.seed == spec.seed and not params.improve
    assert params.safety_stop() == spec.safety_stop_seconds == 60.0
    assert SolveParams(time_limit_seconds=0.3).safety_stop() == 2 * 0.3 + 1.0
