"""The simulation: re-plans are checked and keep history and riders; events move outcomes the expected way."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

import matcher.solver.replan as replanning
from matcher.solver.replan import ReplanPolicy
from scenarios.metrics import HouseholdInfo, summarise
from scenarios.runner import make_payload, replication_seeds, run_drill
from scenarios.sim import DrillError, Replication, simulate
from scenarios.world import DrillContext

SEED = 11


def _without_seconds(record: dict[str, Any]) -> dict[str, Any]:
    replans = [{k: v for k, v in rp.items() if k != "seconds"} for rp in record["replans"]]
    return record | {"replans": replans}


def test_every_replan_is_checked_and_keeps_riders_on_board(storm: DrillContext,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each re-plan's future passes the plan checker against its residual problem, on the roads open then, and
    re-plans happen while people are on board (whom the simulation's own guard keeps with their car)."""
    checked: list[int] = []
    real = replanning.assert_plan_valid

    def counting(problem: Any, plan: Any, road_graph: Any = None, closed_mask: Any = None) -> None:
        assert road_graph is storm.graph and closed_mask is not None
        checked.append(len(plan.routes))
        real(problem, plan, road_graph, closed_mask)

    # The drills re-plan through the service's entry point, which checks every future it returns.
    monkeypatch.setattr(replanning, "assert_plan_valid", counting)
    record = simulate(storm, 0, SEED)
    assert len(checked) == len(record["replans"]) >= 6  # the storm's timeline alone re-plans six times
    assert any(rp["riders_on_board"] > 0 for rp in record["replans"])
    assert {rp["trigger"] for rp in record["replans"]} >= {"close_roads", "flood_zone", "driver_drops_out",
                                                           "new_request", "not_ready"}


def test_a_replan_that_drops_a_rider_is_refused(storm: DrillContext) -> None:
    """The guard itself: a plan in which a car's rider has no later drop-off by that car is a broken re-plan."""
    rep = Replication(storm, 0, SEED)
    route = next(r for r in storm.base_plan.routes if r.stops[0].type == "pickup" and len(r.stops) >= 2)
    car = rep.cars[route.driver_id]
    car.pos = 1
    car.on_board = {str(route.stops[0].household_id): [(route.stops[0].people, 5.0)]}
    rep._check_kept(storm.base_plan)  # the base plan drops them off later: fine
    cut = dataclasses.replace(route, stops=route.stops[:1], legs=route.legs[:1])
    routes = tuple(cut if r is route else r for r in storm.base_plan.routes)
    broken = dataclasses.replace(storm.base_plan, routes=routes)
    with pytest.raises(DrillError, match="left riders"):
        rep._check_kept(broken)


def test_riders_reach_a_shelter_with_the_car_that_picked_them_up(storm: DrillContext) -> None:
    """Everyone delivered was delivered whole: people picked up equal people delivered for served households."""
    rep = Replication(storm, 1, SEED + 1)
    record = rep.run()
    served = [hid for hid, h in record["households"].items() if h["status"] == "served"]
    assert served
    for hid in served:
        assert rep.picked[hid] == rep.delivered[hid] == storm.final_stage.problem.household(hid).people
    assert not any(car.on_board for car in rep.cars.values() if car.id not in rep.stuck)


def test_a_replication_repeats_exactly_for_its_seed(storm: DrillContext) -> None:
    assert _without_seconds(simulate(storm, 2, SEED)) == _without_seconds(simulate(storm, 2, SEED))


def test_replication_seeds_depend_only_on_the_drill_seed() -> None:
    assert replication_seeds(5, 4) == replication_seeds(5, 10)[:4]
    assert len(set(replication_seeds(5, 50))) == 50


def test_more_closures_serve_fewer_or_later(storm: DrillContext) -> None:
    """Two drills that differ only by the storm's closures (road closed, flood growing): the closures cost."""
    spec = dataclasses.replace(storm.spec, runs=3)
    calm = dataclasses.replace(spec, timeline=tuple(e for e in spec.timeline
                                                    if e.action not in ("close_roads", "flood_zone")))
    figures = {}
    for name, drill in (("storm", spec), ("calm", calm)):
        ctx = storm if drill is spec else DrillContext(drill)
        runs = run_drill(make_payload(drill, ctx.map_path), workers=0, ctx=ctx, advice=False).runs
        final = ctx.final_stage.problem
        infos = [HouseholdInfo(h.id, h.name, h.people, h.priority, h.wheelchair_users) for h in final.households]
        figures[name] = summarise(runs, infos, drill.deadline)
    stormy, calm_f = figures["storm"], figures["calm"]
    assert stormy["households_out"]["mean"] <= calm_f["households_out"]["mean"]
    # Households whose street the storm closes walk to a meeting point (or are cut off): the closures show as
    # fewer people out, a later clearance, or pickups moved to meeting points.
    moved = storm.final_stage.problem.meeting_points.keys() - storm.stage(0).problem.meeting_points.keys()
    assert (stormy["households_out"]["mean"] < calm_f["households_out"]["mean"]
            or stormy["clearance_minute"]["median"] > calm_f["clearance_minute"]["median"] or moved)
    assert stormy["outcomes_per_run"].get("cut_off", 0) >= calm_f["outcomes_per_run"].get("cut_off", 0)


def test_improving_replans_are_checked_too(storm: DrillContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """When a repair is not good enough the re-plan also improves (OR-Tools); that future is checked the same way."""
    monkeypatch.setattr(ReplanPolicy, "worth_improving", lambda self, *args: True)
    checked: list[bool] = []
    real = replanning.assert_plan_valid
    monkeypatch.setattr(replanning, "assert_plan_valid", lambda *a, **k: (checked.append(True), real(*a, **k)))
    record = simulate(storm, 3, SEED)
    improved = [rp for rp in record["replans"] if rp["improve"]]
    assert improved and {rp["trigger"] for rp in improved} >= {"close_roads", "flood_zone", "driver_drops_out"}
    assert len(checked) == len(record["replans"])


def test_a_replan_cut_by_the_safety_stop_says_so(storm: DrillContext) -> None:
    """A drill on a machine far too slow (here: a safety stop of zero seconds) marks its re-plans, and the figures
    count them, instead of differing silently."""
    hurried = copy.copy(storm)
    hurried.spec = dataclasses.replace(storm.spec, safety_stop_seconds=0.0)
    record = simulate(hurried, 0, SEED)
    assert record["replans"] and all(rp["safety_stopped"] for rp in record["replans"])
    final = storm.final_stage.problem
    infos = [HouseholdInfo(h.id, h.name, h.people, h.priority, h.wheelchair_users) for h in final.households]
    assert summarise([record], infos, storm.spec.deadline)["replans"]["safety_stopped"] == len(record["replans"])
    assert not any(rp["safety_stopped"] for rp in simulate(storm, 0, SEED)["replans"])
