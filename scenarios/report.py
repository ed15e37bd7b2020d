"""The drill report: report.json (every figure, the same for the same seed), Markdown, HTML, plots and contacts.

Wall-clock figures (how long re-plans took) differ between machines and runs, so they go to timings.json
and into the text, never into report.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from matcher.codes import remedy
from scenarios import plots
from scenarios.advice import picture_data
from scenarios.compare import archive, compare, previous_report
from scenarios.contacts import write_contacts
from scenarios.freshness import roster_freshness
from scenarios.messages import write_messages
from scenarios.metrics import HouseholdInfo, summarise
from scenarios.render import Doc
from scenarios.world import DrillContext

#: Rows of the long tables shown in the text (report.json has all of them).
SHOW_ROWS = 25


def build_report(ctx: DrillContext, runs: list[dict[str, Any]], advice: dict[str, Any],
                 route_rows: list[dict[str, Any]], date: str) -> dict[str, Any]:
    """Every figure of the drill as plain data; a function of the drill, its seed and the replications only."""
    spec = ctx.spec
    final = ctx.final_stage.problem
    infos = [HouseholdInfo(h.id, h.name, h.people, h.priority, h.wheelchair_users, h.needs, h.pets)
             for h in final.households]
    figures = summarise(runs, infos, spec.deadline)
    base = ctx.base_plan.metrics
    return {
        "format": 1,
        "drill": {"name": spec.name, "key": spec.name, "file": spec.path.name if spec.path else None, "date": date,
                  "runs": len(runs), "seed": spec.seed, "deadline": spec.deadline,
                  "replan_time_limit_seconds": spec.replan_time_limit_seconds,
                  "safety_stop_seconds": spec.safety_stop_seconds,
                  "timeline": [{"minute": e.minute, "event": e.describe()} for e in spec.timeline],
                  "randomness": {"no_show_probability": spec.randomness.no_show_probability,
                                 "dropout_probability": spec.randomness.dropout_probability,
                                 "dropout_window_minutes": list(spec.randomness.dropout_window),
                                 "late_readiness": {"probability": spec.randomness.late_probability,
                                                    "mean_minutes": spec.randomness.late_mean_minutes},
                                 "travel_noise": dict(spec.randomness.travel_noise)}},
        "base_plan": {"households_served": base.households_served, "households_unserved": base.households_unserved,
                      "clearance_minute": round(base.clearance_minute, 2)},
        "summary": {"at_risk": len(figures["at_risk"]), "cars_to_add": advice["cars"] + advice["wheelchair_vans"]},
        "figures": figures,
        "shortfall": advice,
        "route_test": {"count": len(route_rows), "legs": route_rows},
        # Only when the drill's records carry confirmed_at (the service's drills always do).
        **({"roster_freshness": fresh} if (fresh := roster_freshness(spec.scenario, date, spec.freshness_days))
           else {}),
    }


def write_report(out: Path, ctx: DrillContext, report: dict[str, Any], runs: list[dict[str, Any]],
                 timings: dict[str, Any]) -> dict[str, Path]:
    """Write every file of the report into ``out``; the main paths."""
    out.mkdir(parents=True, exist_ok=True)
    report["comparison"] = compare(previous_report(out, report["drill"]["key"]), report)
    archive(out)
    (out / "plots").mkdir(exist_ok=True)
    at_risk = {r["household"] for r in report["figures"]["at_risk"]}
    report["files"] = {
        "plots": [plots.people_over_time(report["figures"], out / "plots" / "people_over_time.png"),
                  plots.coverage_by_priority(report["figures"], out / "plots" / "coverage_by_priority.png"),
                  plots.clearance(report["figures"], out / "plots" / "clearance.png"),
                  plots.route_map(ctx.stage(0), ctx.final_stage, ctx.base_plan, at_risk, out / "plots" / "map.png")],
        "contacts": write_contacts(out / "contacts", ctx.stage(0).problem, ctx.base_plan, report["drill"]["date"]),
        "messages": write_messages(out / "messages.jsonl", ctx.stage(0).problem, ctx.base_plan),
        "runs": f"runs/ ({len(runs)} files: each replication's outcomes, re-plans and event log)",
        "shortfall_scenario": "shortfall_scenario.yaml",
    }
    (out / "runs").mkdir(exist_ok=True)
    for run in runs:
        (out / "runs" / f"run-{run['index'] + 1:03d}.json").write_text(json.dumps(run, sort_keys=True), "utf-8")
    _write_shortfall_scenario(out, ctx, report["shortfall"])
    paths = {"json": out / "report.json", "timings": out / "timings.json", "md": out / "report.md",
             "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n", "utf-8")
    paths["timings"].write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n", "utf-8")
    doc = document(report, timings)
    paths["md"].write_text(doc.markdown(), "utf-8")
    paths["html"].write_text(doc.html(out, f"Drill report: {report['drill']['name']}"), "utf-8")
    return paths


def _write_shortfall_scenario(out: Path, ctx: DrillContext, advice: dict[str, Any]) -> None:
    """The drill picture with the suggested cars: ``evac plan`` on it shows the advice at work."""
    data = picture_data(ctx)
    data["drivers"] = [*data["drivers"], *advice["added_drivers"]]
    data["map"] = os.path.relpath(ctx.map_path, out.resolve())
    data["name"] = f"{ctx.spec.name}: drill picture with the suggested cars"
    header = "# Written by `evac drill`: the drill picture (every scripted event applied) plus the suggested cars.\n"
    (out / "shortfall_scenario.yaml").write_text(header + yaml.safe_dump(data, sort_keys=False, width=200), "utf-8")


def _answer(report: dict[str, Any]) -> list[str]:
    f, drill = report["figures"], report["drill"]
    po, ho, cl = f["people_out"], f["households_out"], f["clearance_minute"]
    lines = [f"**If the storm came tonight, on average {po['mean']:.0f} of {f['people_total']} people "
             f"({ho['mean']:.0f} of {f['households_total']} households) would be at a shelter by the deadline "
             f"(minute {drill['deadline']:g}); in the worst replication {po['min']:.0f} people "
             f"({ho['min']:.0f} households).**",
             f"The last household reached a shelter at minute {cl['median']:.0f} in the median replication "
             f"(90% of replications by minute {cl['p90']:.0f}, worst {cl['max']:.0f}); "
             f"{f['runs_cleared_by_deadline']} of {drill['runs']} replications finished by the deadline."]
    risk = report["summary"]["at_risk"]
    lines.append(f"**{risk} households are at risk** (served in fewer than 95% of the replications they were at "
                 "home for): see *Who is at risk*." if risk else "**No household is at risk.**")
    adv = report["shortfall"]
    if adv["added_drivers"]:
        lines.append(f"**What we are short of: {adv['cars']} more cars and {adv['wheelchair_vans']} wheelchair vans** "
                     f"would bring out {len(adv['serves'])} more households (see *Shortfall advice*).")
    else:
        lines.append("**More cars would not bring anyone else out** in the drill picture"
                     + (" (the households left out need something else: see *Shortfall advice*)."
                        if adv["not_fixable_by_cars"] else "."))
    fresh = report.get("roster_freshness")
    if fresh:
        stale = fresh["households"]["stale"] + fresh["drivers"]["stale"]
        lines.append(f"**{stale} records were not confirmed in the last {fresh['days']} days**"
                     " (see *Roster freshness*): the drill plans with them as registered." if stale else
                     f"**Every record was confirmed in the last {fresh['days']} days.**")
    cmp_ = report.get("comparison")
    if cmp_:
        lines.append(f"**Since the previous drill ({cmp_['previous_date']}):** {cmp_['better']} measures better, "
                     f"{cmp_['worse']} worse (see *Since last time*).")
    return lines


def document(report: dict[str, Any], timings: dict[str, Any]) -> Doc:
    """The report as a coordinator reads it."""
    f, drill, adv = report["figures"], report["drill"], report["shortfall"]
    doc = Doc()
    doc.h1(f"Drill report: {drill['name']}")
    doc.p(f"Drill date {drill['date']} · {drill['runs']} replications · seed {drill['seed']} · "
          f"deadline minute {drill['deadline']:g} · drill file `{drill['file']}`")
    doc.h2("The answer")
    for line in _answer(report):
        doc.p(line)
    doc.h2("Key figures")
    rp, ts, du = f["replans"], timings["replan_seconds"], f["driver_utilisation"]
    busiest = ", ".join(f"{d} {100 * u:.0f}%" for d, u in du["busiest"][:3])
    doc.table(["figure", "mean", "worst", "best"], [
        ["people out by the deadline", f"{f['people_out']['mean']:.0f} of {f['people_total']}",
         f"{f['people_out']['min']:.0f}", f"{f['people_out']['max']:.0f}"],
        ["households out by the deadline", f"{f['households_out']['mean']:.0f} of {f['households_total']}",
         f"{f['households_out']['min']:.0f}", f"{f['households_out']['max']:.0f}"],
        ["clearance minute (last arrival)", f"{f['clearance_minute']['mean']:.0f}",
         f"{f['clearance_minute']['max']:.0f}", f"{f['clearance_minute']['min']:.0f}"],
        ["longest time on board (minutes)", f"{f['longest_on_board_minutes']['mean']:.0f}",
         f"{f['longest_on_board_minutes']['max']:.0f}", f"{f['longest_on_board_minutes']['min']:.0f}"],
        ["re-plans per replication", f"{rp['per_run']['mean']:.1f}", f"{rp['per_run']['max']:.0f}",
         f"{rp['per_run']['min']:.0f}"],
        ["seconds per re-plan (this machine)", f"{ts['mean']:.2f}", f"{ts['max']:.2f}", f"{ts['min']:.2f}"],
        ["driver utilisation (driving and stops)", f"{100 * du['mean']:.0f}%", "", f"busiest: {busiest}"],
    ])
    if rp.get("safety_stopped"):
        doc.p(f"Warning: {rp['safety_stopped']} re-plans reached the safety stop of "
              f"{drill['safety_stop_seconds']:g} s (the machine was far too slow), so these figures may not "
              "repeat for the same seed.")
    doc.p(f"Re-plans keep {100 * rp['stability_mean']:.0f}% of waiting households with their driver "
          f"(on average {rp['moved_per_replan']:.1f} households move per re-plan). What set them off, per "
          f"replication: " + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in rp["by_trigger"].items()) + ".")
    doc.img("plots/people_over_time.png", "People evacuated over time")
    doc.h2("Coverage by priority")
    doc.table(["priority", "households", "mean out by the deadline", "worst replication"],
              [[p, c["households"], f"{100 * c['mean']:.1f}%", f"{100 * c['min']:.1f}%"]
               for p, c in f["coverage_by_priority"].items()])
    doc.img("plots/coverage_by_priority.png", "Coverage by priority")
    if f.get("latest_pickup_by_priority"):
        doc.p("Latest pickup per priority (minute the last household of that priority is picked up; "
              "priority 1 is \"first of all\"):")
        doc.table(["priority", "mean", "worst", "best"],
                  [[p, f"{v['mean']:.0f}", f"{v['max']:.0f}", f"{v['min']:.0f}"]
                   for p, v in f["latest_pickup_by_priority"].items()])
    doc.img("plots/clearance.png", "Clearance time across replications")
    _at_risk(doc, f["at_risk"], f.get("at_risk_by_need", {}))
    _shortfall(doc, adv)
    _route_test(doc, report["route_test"])
    _freshness(doc, report.get("roster_freshness"))
    _comparison(doc, report.get("comparison"))
    doc.h2("The drill")
    doc.ul([f"minute {e['minute']:g}: {e['event']}" for e in drill["timeline"]])
    r = drill["randomness"]
    doc.p(f"By chance, in each replication: a household is not at home with probability {r['no_show_probability']:g}, "
          f"a driver drops out with probability {r['dropout_probability']:g} (between minutes "
          f"{r['dropout_window_minutes'][0]:g} and {r['dropout_window_minutes'][1]:g}), a household is late with "
          f"probability {r['late_readiness']['probability']:g} (by {r['late_readiness']['mean_minutes']:g} minutes on "
          "average), and each road class drives slower or faster than planned (lognormal factor, sigma "
          + ", ".join(f"{k} {v:g}" for k, v in r["travel_noise"].items()) + ").")
    doc.h2("Map")
    doc.img("plots/map.png", "Planned routes, closures and households at risk")
    doc.h2("Contact lists")
    c = report["files"]["contacts"]
    doc.p(f"For the swap, marked with the drill date {drill['date']}: [drivers.csv]({c['drivers_csv']}) (each "
          f"driver's households, in driving order), [households.csv]({c['households_csv']}) (each household's "
          f"driver), and vCards to import on a phone: {c['driver_vcards']} in `contacts/drivers/` (a driver's "
          f"households) and {c['household_vcards']} in `contacts/households/` (a household's driver).")
    m = report["files"]["messages"]
    doc.p(f"Messages people would get from this plan (the service's templates, in each household's language): "
          f"{m['count']} in [{m['file']}]({m['file']}) ("
          + ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in m["by_template"].items()) + ").")
    doc.h2("How this was worked out")
    doc.p("Each replication drives the plan for the town as registered through simulated time (SimPy): cars drive "
          "their legs with the drill's travel-time noise, the timeline's events fire, and the coordinator re-plans "
          "with the matcher's own re-plan (completed stops and riders on board stay) within "
          f"{drill['replan_time_limit_seconds']:g} s; every re-plan is re-checked by the plan checker on the roads "
          "open at that minute. report.json holds every figure; timings.json the seconds; runs/ each replication.")
    return doc


def _at_risk(doc: Doc, rows: list[dict[str, Any]], by_need: dict[str, dict[str, int]]) -> None:
    doc.h2("Who is at risk")
    if not rows:
        doc.p("Every household got out in at least 95% of the replications it was at home for.")
        return
    needs = [[need, c["households"], c["at_risk"]] for need, c in by_need.items() if c["at_risk"]]
    if needs:
        doc.p("At risk by need (a household counts under each of its needs):")
        doc.table(["need", "households with it", "at risk"], needs)
    doc.p(f"{len(rows)} households got out in fewer than 95% of the replications they were at home for"
          + (f" (the first {SHOW_ROWS} are shown; all are in report.json)." if len(rows) > SHOW_ROWS else "."))
    doc.table(["household", "name", "priority", "people", "needs", "got out in", "most common reason"],
              [[r["household"], r["name"], r["priority"], r["people"], ", ".join(r.get("needs", [])),
                f"{100 * r['served_share']:.0f}%", r["reason"]]
               for r in rows[:SHOW_ROWS]])


def _shortfall(doc: Doc, adv: dict[str, Any]) -> None:
    doc.h2("Shortfall advice")
    doc.p(f"Worked out on the drill picture ({adv['picture']}) by re-solving with added capacity "
          f"({adv['solves']} solves), not by a rule of thumb.")
    if adv["added_drivers"]:
        doc.p(f"**Add {adv['cars']} cars and {adv['wheelchair_vans']} wheelchair vans.** With them the plan brings "
              f"out {len(adv['serves'])} households it left out before ({adv['unserved_before']} left out before, "
              f"{adv['unserved_after']} after); verified by solving again and checking the plan. "
              "`shortfall_scenario.yaml` is that scenario: `evac plan` it to see the routes.")
        doc.table(["add", "seats", "wheelchair spaces", "where (a volunteer living near)", "near household"],
                  [[w["driver"], w["seats"], w["wheelchair_spaces"], w["where"], w["near_household"]]
                   for w in adv["where"]])
    elif adv["short_of_cars_before"]:
        doc.p("Even the largest number of cars tried did not bring everyone out.")
    else:
        doc.p("No household is left out for want of a car.")
    if adv["still_short"]:
        doc.p(f"Still short of a car after the additions: {', '.join(adv['still_short'])}.")
    by_code: dict[str, list[str]] = {}
    for item in adv["not_fixable_by_cars"]:
        by_code.setdefault(item["code"], []).append(item["household"])
    doc.ul([f"{len(ids)} households: {remedy(code)} ({', '.join(ids)})"
            for code, ids in sorted(by_code.items())])


def _freshness(doc: Doc, fresh: dict[str, Any] | None) -> None:
    if not fresh:
        return
    doc.h2("Roster freshness")
    h, d = fresh["households"], fresh["drivers"]
    doc.p(f"Records not confirmed at a check-in in the {fresh['days']} days before {fresh['as_of']} (never confirmed "
          f"included): {d['stale']} of {d['total']} drivers ({d['never_confirmed']} never) and {h['stale']} of "
          f"{h['total']} households ({h['never_confirmed']} never). A driver who sold the car or a household that "
          "moved or now needs a wheelchair makes this drill, and the real plan, wrong: ask them first.")
    rows = [[kind, r["id"], r["name"], r["confirmed_at"] or "never", "" if r["days_since"] is None else r["days_since"]]
            for kind, part in (("driver", d), ("household", h)) for r in part["records"]]
    if rows:
        doc.table(["record", "id", "name", "last confirmed", "days ago"], rows[:SHOW_ROWS])
        if len(rows) > SHOW_ROWS:
            doc.p(f"... and {len(rows) - SHOW_ROWS} more (report.json lists every one).")


def _route_test(doc: Doc, test: dict[str, Any]) -> None:
    doc.h2("Route test")
    legs = test["legs"]
    if not legs:
        doc.p("No leg of the plan uses a road the drill closes, and none becomes much slower.")
        return
    doc.p(f"{test['count']} legs of the plan made before the storm become impassable or much slower under the "
          "drill's closures (the drivers should know the detours).")
    doc.table(["driver", "from", "to", "planned min", "now min", "verdict", "closed streets"],
              [[r["driver"], r["from"], r["to"], r["planned_minutes"],
                "no road" if r["now_minutes"] is None else r["now_minutes"], r["verdict"], ", ".join(r["streets"])]
               for r in legs[:SHOW_ROWS]])


def _comparison(doc: Doc, cmp_: dict[str, Any] | None) -> None:
    doc.h2("Since last time")
    if not cmp_:
        doc.p("No earlier report of this drill in this folder; the next run here will be compared with this one.")
        return
    doc.p(f"Compared with the report of {cmp_['previous_date']} ({cmp_['previous_runs']} replications, seed "
          f"{cmp_['previous_seed']}), kept under history/.")
    doc.table(["measure", "before", "now", "change", ""],
              [[r["measure"], f"{r['before']:g}", f"{r['now']:g}", f"{r['change']:+g}", r["verdict"]]
               for r in cmp_["rows"]])
