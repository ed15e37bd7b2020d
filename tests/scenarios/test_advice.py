"""Shortfall advice, route test and the small pieces of the report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from matcher.check import assert_plan_valid
from matcher.scenario import load_scenario
from matcher.solver import solve
from scenarios.contacts import vcard
from scenarios.metrics import AT_RISK_BELOW, HouseholdInfo, summarise
from scenarios.routetest import route_test
from scenarios.spec import load_drill
from scenarios.world import DrillContext
from tests.scenarios.conftest import DRILLS


def test_applied_advice_serves_the_households_it_claims(reports: dict[str, Path]) -> None:
    """The short-handed drill's suggested cars, added to the scenario and solved again, serve whom they claim."""
    out = reports["short_handed"]
    advice = json.loads((out / "report.json").read_text(encoding="utf-8"))["shortfall"]
    assert advice["cars"] >= 1 and advice["wheelchair_vans"] >= 1  # the roster has no wheelchair van at all
    assert advice["serves"] and not advice["still_short"]
    spec = load_drill(DRILLS / "short_handed.yaml")
    params = spec.params(spec.advice_time_limit_seconds)
    scenario = load_scenario(out / "shortfall_scenario.yaml")
    added = {d["id"] for d in advice["added_drivers"]}
    assert added <= {d.id for d in scenario.problem.drivers}
    plan = solve(scenario.problem, params)
    assert_plan_valid(scenario.problem, plan, scenario.graph, scenario.closed_mask)
    served = {s.household_id for r in plan.routes for s in r.stops if s.type == "pickup"}
    assert set(advice["serves"]) <= served
    assert not {u.household_id for u in plan.unserved if u.code in ("not_enough_cars", "no_wheelchair_car")}
    # Without the suggested cars the same picture leaves them out: the claim is not empty talk.
    data = yaml.safe_load((out / "shortfall_scenario.yaml").read_text(encoding="utf-8"))
    data["drivers"] = [d for d in data["drivers"] if d["id"] not in added]
    bare = out / "without_advice.yaml"
    bare.write_text(yaml.safe_dump(data), encoding="utf-8")
    without = load_scenario(bare)
    plan_without = solve(without.problem, params)
    unserved = {u.household_id for u in plan_without.unserved}
    assert set(advice["serves"]) <= unserved


def test_no_cars_are_suggested_when_cars_would_not_help(reports: dict[str, Path]) -> None:
    """In the storm the households left out are cut off by water or need what no volunteer car is (a stretcher):
    more cars are not the answer, and it says so."""
    advice = json.loads((reports["storm_night"] / "report.json").read_text(encoding="utf-8"))["shortfall"]
    assert advice["added_drivers"] == [] and advice["short_of_cars_before"] == []
    codes = {i["code"] for i in advice["not_fixable_by_cars"]}
    assert "needs_stretcher" in codes
    assert codes <= {"cut_off", "needs_stretcher", "no_medical_shelter", "no_pet_shelter", "no_shelter_room"}


def test_route_test_finds_the_legs_the_closures_cut(storm: DrillContext) -> None:
    rows = route_test(storm)
    assert any(363960734 in r["closed_ways"] and "Hiidenkirnuntie" in r["streets"] for r in rows)
    assert {r["verdict"] for r in rows} <= {"no road left", "closed road on the way", "much slower"}
    no_closures = dataclasses.replace(storm.spec, timeline=tuple(
        e for e in storm.spec.timeline if e.action not in ("close_roads", "flood_zone")))
    assert route_test(DrillContext(no_closures)) == []


def test_at_risk_counts_only_the_runs_a_household_was_at_home() -> None:
    """Served in 2 of the 3 runs at home is at risk, with the commonest reason while at home (not being away)."""
    infos = [HouseholdInfo("A", "a", 2, 1, 0), HouseholdInfo("B", "b", 1, 3, 0)]

    def run(a: str, b: str) -> dict[str, object]:
        households = {"A": {"status": a, "ride": 5.0}, "B": {"status": b, "ride": 4.0}}
        return {"households": households, "deliveries": [[10.0, 2]], "replans": [], "reasons": {},
                "drivers": {"D": {"busy": 30.0, "window": 60.0}}}

    runs = [run("served", "served"), run("late", "no_show"), run("served", "served"), run("no_show", "served"),
            run("no_show", "served")]
    figures = summarise(runs, infos, 60.0)
    risk = {r["household"]: r for r in figures["at_risk"]}
    assert set(risk) == {"A"} and risk["A"]["served_share"] == round(2 / 3, 3) < AT_RISK_BELOW
    assert risk["A"]["reason_code"] == "late"
    assert figures["coverage_by_priority"]["3"]["min"] == 1.0  # B was away once, never left behind
    assert figures["driver_utilisation"]["mean"] == 0.5
    assert figures["curve"]["median"][-1] == 2


def test_vcard_escapes_what_the_format_reserves() -> None:
    card = vcard("Smith, Anna; Jr", "+358 1", "line one\nline two", "2026-10-01", "x")
    assert "FN:Smith\\, Anna\\; Jr\r\n" in card and "NOTE:line one\\nline two\r\n" in card
    assert card.endswith("END:VCARD\r\n")


def test_html_renders_the_markdown_the_report_uses() -> None:
    from scenarios.render import _inline

    assert _inline("**a** *b* `c` [d](e.csv) <x>") == \
        "<strong>a</strong> <em>b</em> <code>c</code> <a href='e.csv'>d</a> &lt;x&gt;"
