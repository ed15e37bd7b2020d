"""A drill on a regional scenario: households and drivers carry zones, so the base plan is made by zones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from matcher.check import assert_plan_valid
from scenarios.runner import make_payload, run_drill
from scenarios.spec import drill_from_dict
from scenarios.world import DrillContext

DRILL = Path(__file__).parents[2] / "scenarios" / "drills" / "short_handed.yaml"


def test_drill_on_a_zoned_scenario_plans_by_zones() -> None:
    data = yaml.safe_load(DRILL.read_text(encoding="utf-8"))
    middle = sorted(h["lon"] for h in data["households"])[len(data["households"]) // 2]
    for record in data["households"] + data["drivers"]:
        record["zone"] = "West" if record["lon"] < middle else "East"
    spec = dataclasses.replace(drill_from_dict(data, DRILL.parent, DRILL), runs=2)
    ctx = DrillContext(spec)
    assert ctx.regional
    base = ctx.base_plan
    stage = ctx.stage(0)
    assert_plan_valid(stage.problem, base, stage.graph, stage.closed_mask)
    assert {z["zone"].split("+")[0] for z in base.extra["zones"]} <= {"East", "West"}
    single = DrillContext(drill_from_dict(yaml.safe_load(DRILL.read_text(encoding="utf-8")), DRILL.parent, DRILL))
    assert not single.regional
    # Short-handed on purpose: the zoned plan is held to what one solve of the whole town serves.
    assert base.metrics.households_served >= 0.9 * single.base_plan.metrics.households_served
    run = run_drill(make_payload(spec, ctx.map_path), workers=0, ctx=ctx, advice=False)
    assert len(run.runs) == 2
    assert all(r["households_total"] == len(data["households"]) for r in run.runs if "households_total" in r)
    # Its re-plans go zone by zone, as the service's do (each re-checked inside the simulation).
    replans = [p for r in run.runs for p in r.get("replans", [])]
    assert replans and all(set(p["zones"]) <= {"East", "West"} for p in replans)
