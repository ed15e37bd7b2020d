"""The benchmark, one command: our solver against its peers on a real map, and on the BEP instances.

    python -m benchmarks.run [--sizes 200,1000] [--map FILE.pbf] [--time-limit S] [--bep] [--out FILE.md]

For each size: a random instance on the map (``benchmarks.instances``), one travel-time matrix, then our
solver, the greedy dispatcher, VROOM plain and VROOM with a bisected shift end (VROOM gets three times our
time limit in total) on that same matrix. Every plan is re-verified with ``matcher.check``. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import bep
from benchmarks.bep_exact import exact_plan, solve_exact
from benchmarks.instances import build_problem, random_instance, strip_needs, with_rules
from benchmarks.peers.greedy import solve_greedy
from benchmarks.peers.vroom_peer import VroomModel, solve_vroom, solve_vroom_bisect
from matcher.check import check_plan
from matcher.plan import Plan
from matcher.problem import Problem
from matcher.roads.graph import RoadGraph
from matcher.roads.load import load_road_graph
from matcher.settings import get_settings

SHARED = Path(os.environ.get("EVAC_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
DEFAULT_MAP = SHARED / "maps" / "heidelberg.test.pbf"
PEERS = ("greedy", "VROOM plain", "VROOM bisect")
#: Our solver's safety stop in the benchmark, in multiples of its time limit.
SAFETY_FACTOR = 20.0


@dataclass
class Row:
    """One method's result on one instance; ``plan`` is None when the method could not run."""

    method: str
    plan: Plan | None
    wall_seconds: float
    violations: int = 0
    note: str = ""


def _timed(fn: Callable[[], Plan]) -> tuple[Plan, float]:
    started = time.perf_counter()
    plan = fn()
    return plan, time.perf_counter() - started


def _ours() -> Callable[[Problem, float, int], Plan] | None:
    """Our solver, or None while it is not there (the peers still run)."""
    try:
        from matcher.solver import SolveParams, solve
    except ImportError:
        return None
    # The clock's safety stop far away: our figures are what the work budget gives, the same on any machine
    # and under any load (on a busy machine the stop at twice the limit would cut the search short).
    return lambda problem, limit, seed: solve(problem, SolveParams(time_limit_seconds=limit, seed=seed,
                                                                   safety_stop_seconds=SAFETY_FACTOR * limit))


def run_methods(problem: Problem, graph: RoadGraph | None, time_limit: float, seed: int,
                vroom_factor: float = 3.0, peers: bool = True) -> list[Row]:
    """Every method on one problem, each plan checked (leg geometry too when ``graph`` is given).

    VROOM gets ``vroom_factor`` times our time limit per mode. Without ``peers`` only our solver runs (its plan
    does not depend on the machine's load: compare it with the peers' rows of an earlier run).
    """
    rows: list[Row] = []
    solve = _ours()
    if solve is None:
        rows.append(Row("ours", None, 0.0, note="matcher.solver.solve is not available"))
    else:
        plan, wall = _timed(lambda: solve(problem, time_limit, seed))
        rows.append(Row("ours", plan, wall))
    if not peers:
        rows[-1].violations = len(check_plan(problem, rows[-1].plan, road_graph=graph)) if rows[-1].plan else 0
        return rows
    plan, wall = _timed(lambda: solve_greedy(problem))
    rows.append(Row("greedy", plan, wall))
    model = VroomModel(problem)
    plain = solve_vroom(problem, time_limit_seconds=vroom_factor * time_limit, model=model)
    rows.append(Row("VROOM plain", plain.plan, plain.wall_seconds,
                    note=f"{plain.dropped_for_ride} dropped for ride time"))
    bisect = solve_vroom_bisect(problem, budget_seconds=vroom_factor * time_limit, plain=plain, model=model)
    rows.append(Row("VROOM bisect", bisect.plan, bisect.wall_seconds,
                    note=f"plain, then {len(bisect.probes)} probes; {bisect.dropped_for_ride} dropped for ride time"))
    for row in rows:
        if row.plan is not None:
            row.violations = len(check_plan(problem, row.plan, road_graph=graph))
    return rows


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def common_clearance(plan: Plan, households: frozenset[str]) -> float:
    """The minute the last of ``households`` reaches a shelter in ``plan`` (0 when none of them is in it)."""
    return max((s.arrive_minute for r in plan.routes for s in r.stops
                if s.type == "dropoff" and households.intersection(s.household_ids)), default=0.0)


def method_table(rows: list[Row], households: int, bound: float | None = None) -> list[str]:
    """Markdown: served, clearance (all, and over the households every method served), the ratio to the best
    peer's, the gap to the lower bound, driving, wall and first-plan seconds.

    Serving more households can mean clearing later: the "common" column compares the methods on the same
    households, the ones every method served.
    """
    planned = [r for r in rows if r.plan is not None]
    served = [frozenset(h for route in r.plan.routes for s in route.stops if s.type == "pickup"
                        for h in (s.household_id,) if h) for r in planned if r.plan is not None]
    common = frozenset.intersection(*served) if served else frozenset()
    peers = [r.plan.metrics.clearance_minute for r in rows if r.method in PEERS and r.plan is not None]
    best_peer = min(peers, default=None)
    peers_common = [common_clearance(r.plan, common) for r in rows if r.method in PEERS and r.plan is not None]
    best_common = min(peers_common, default=None)
    lines = [
        f"| method | served | clearance (min) | common {len(common)} (min) | vs best peer | common vs best peer "
        "| gap to bound | driving (min) | wall (s) | first plan (s) | check | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        if r.plan is None:
            lines.append(f"| {r.method} | – | – | – | – | – | – | – | – | – | – | {r.note} |")
            continue
        m = r.plan.metrics
        ratio = m.clearance_minute / best_peer if best_peer else None
        mine_common = common_clearance(r.plan, common)
        ratio_common = mine_common / best_common if best_common else None
        gap = f"{100 * (m.clearance_minute / bound - 1):.0f}%" if bound and m.households_served == households \
            else "–"
        check = "valid" if r.violations == 0 else f"**{r.violations} violations**"
        lines.append(
            f"| {r.method} | {m.households_served}/{households} | {_f(m.clearance_minute)} | {_f(mine_common)} | "
            f"{_f(ratio, 2)} | {_f(ratio_common, 2)} | {gap} | {_f(m.drive_minutes, 0)} | {_f(r.wall_seconds, 2)} | "
            f"{_f(m.first_plan_seconds, 2)} | {check} | {r.note} |"
        )
    if bound:
        lines.append("")
        lines.append(f"Lower bound on the clearance for serving all {households}: minute {bound:.1f} "
                     "(`matcher/solver/bound.py`); the gap is shown for plans that serve everyone.")
    return lines


def map_section(map_path: Path, sizes: list[int], time_limit: float, seed: int,
                vroom_factor: float, deadline: float = 180.0, far_shelters: bool = False,
                peers: bool = True) -> Iterator[str]:
    """The random-instance tables, one per size, or a line saying why they were skipped."""
    if not map_path.is_file():
        yield (f"Skipped the map benchmark: {map_path} is not there (it comes from the shared maps folder, "
               "../shared/maps; pass --map FILE.osm.pbf to use another map).")
        return
    started = time.perf_counter()
    graph = load_road_graph(map_path, cache_dir=get_settings().cache_dir)
    load_s = time.perf_counter() - started
    yield (f"Map `{map_path.name}`: {graph.node_count:,} road nodes, {graph.vertex_count:,} graph vertices; "
           f"loaded in {load_s:.2f} s (parsed on the first run, then read from the cache).")
    for size in sizes:
        scenario = random_instance(graph, size, seed=seed, map_path=map_path, deadline_minutes=deadline,
                                   far_shelters=far_shelters)
        started = time.perf_counter()
        problem = build_problem(scenario, graph)
        matrix_s = time.perf_counter() - started
        people = sum(h.people for h in problem.households)
        yield from [
            "",
            f"### {size} households ({people} people), {len(problem.drivers)} cars, {len(problem.shelters)} shelters, "
            f"deadline {problem.deadline:g} min{', shelters at the edge of town' if far_shelters else ''}",
            "",
            f"Travel-time matrix over {len(problem.travel.locations)} places: {matrix_s:.2f} s. "
            f"Time limit: ours {time_limit:g} s; VROOM plain {vroom_factor * time_limit:g} s, then as much again "
            "for the bisection probes.",
            "",
        ]
        rows = run_methods(problem, graph, time_limit, seed, vroom_factor, peers)
        bound = next((r.plan.metrics.clearance_bound_minute for r in rows if r.method == "ours" and r.plan), None)
        yield from method_table(rows, size, bound)


def _latest(plan: Plan, priority: int) -> str:
    value = plan.metrics.latest_pickup_by_priority.get(str(priority))
    return _f(value)


def needs_table(variants: list[tuple[str, Problem]], graph: RoadGraph | None, time_limit: float, seed: int,
                vroom_factor: float) -> Iterator[str]:
    """Per variant of one instance and per method: served, clearance (all, and over the households every method
    of the variant served: serving more can mean clearing later), latest pickup per priority, targets, language."""
    yield from [
        "| rules | method | served | clearance (min) | clearance, households all serve (min) "
        "| latest pickup p1 / p2 / p3 (min) | p1-p2 targets met | language match | wall (s) | check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, problem in variants:
        rows = run_methods(problem, graph, time_limit, seed, vroom_factor)
        served = [frozenset(s.household_id for route in r.plan.routes for s in route.stops
                            if s.type == "pickup" and s.household_id) for r in rows if r.plan is not None]
        common = frozenset.intersection(*served) if served else frozenset()
        for r in rows:
            if r.plan is None:
                yield f"| {label} | {r.method} | – | – | – | – | – | – | – | {r.note} |"
                continue
            m = r.plan.metrics
            share = m.language_match_share
            targets = f"{m.pickup_targets_met}/{m.pickup_targets_total}" if m.pickup_targets_total else "–"
            check = "valid" if r.violations == 0 else f"**{r.violations} violations**"
            yield (f"| {label} | {r.method} | {m.households_served}/{len(problem.households)} | "
                   f"{_f(m.clearance_minute)} | {_f(common_clearance(r.plan, common))} of {len(common)} | "
                   f"{_latest(r.plan, 1)} / {_latest(r.plan, 2)} / {_latest(r.plan, 3)} | "
                   f"{targets} | {'–' if share is None else f'{100 * share:.0f}%'} | {_f(r.wall_seconds, 1)} | "
                   f"{check} |")


def needs_section(map_path: Path, size: int, time_limit: float, seed: int, vroom_factor: float) -> Iterator[str]:
    """One instance with the realistic needs mix, under the needs rules and pickup targets, and without them.

    "Without the needs rules" is the same instance with needs, pets and languages taken off (the same
    places, so the same roads); "no targets" keeps the needs and drops the pickup targets.
    """
    if not map_path.is_file():
        yield f"Skipped the needs benchmark: {map_path} is not there."
        return
    graph = load_road_graph(map_path, cache_dir=get_settings().cache_dir)
    scenario = random_instance(graph, size, seed=seed, map_path=map_path, needs=True)
    full = build_problem(scenario, graph)
    plain = build_problem(strip_needs(scenario), graph)
    h = full.households
    yield from [
        f"### {size} households with the needs mix: {sum(1 for x in h if x.pets)} with pets, "
        f"{sum(1 for x in h if x.medical)} with medical needs, {sum(1 for x in h if x.language == 'sv')} "
        f"Swedish-speaking, {sum(1 for x in h if x.has_stretcher)} needing a stretcher; {len(full.drivers)} cars "
        f"({sum(1 for d in full.drivers if not d.takes_pets)} take no pets)",
        "",
        f"Pickup targets: {', '.join(f'priority {p} within {m:g} min' for p, m in full.rules.pickup_targets)}; "
        f"medical ride limit {full.rules.medical_max_ride_minutes:g} min. Every method gets the same rules.",
        "",
    ]
    variants = [
        ("needs + targets", full),
        ("needs, no targets", with_rules(full, pickup_targets=())),
        ("no needs, targets", plain),
        ("no needs, no targets", with_rules(plain, pickup_targets=())),
    ]
    yield from needs_table(variants, graph, time_limit, seed, vroom_factor)


BepResult = tuple[float | None, float, int, str, float | None]


def _bep_result(problem: Problem, method: Callable[[Problem], Plan], reference: float | None) -> BepResult:
    """(gap %, wall seconds, violations, evacuation-time cell, evacuation time) of one method on one BEP instance."""
    plan, wall = _timed(lambda: method(problem))
    violations = len(check_plan(problem, plan))
    if plan.unserved:
        return None, wall, violations, f"{len(plan.unserved)} unserved", None
    value = plan.metrics.clearance_minute
    gap = None if reference is None else 100.0 * (value - reference) / reference
    return gap, wall, violations, _f(value, 0), value


#: The exact search runs on the BEP instances with at most this many buses, within this many states each
#: (sets 2-5; an unproven one stops at about 2 CPU s; six buses and more are out of its reach).
EXACT_MAX_BUSES = 3
EXACT_MAX_STATES = 300_000


def _bep_exact(inst: bep.BepInstance, problem: Problem) -> tuple[float | None, str, int]:
    """(proven optimum or None, its cell, violations of its checked plan) for a tiny instance, else (None, "–", 0)."""
    if inst.buses > EXACT_MAX_BUSES:
        return None, "–", 0
    result = solve_exact(inst, EXACT_MAX_STATES)
    if not result.proven:
        return None, f"≥ {result.lower_bound}", 0
    plan = exact_plan(inst, problem, result)
    bad = len(check_plan(problem, plan)) + (plan.metrics.clearance_minute != result.makespan) + len(plan.unserved)
    return float(result.makespan), str(result.makespan), bad


def _gap_summary(method: str, values: list[float], against: str) -> str:
    above = sum(v > 3.0 for v in values)
    return (f"- {method}: mean gap {sum(values) / len(values):.1f} %, max {max(values):.1f} %, {above} above 3 % "
            f"over {len(values)} instances with a reference value ({against})")


def bep_section(time_limit: float, seed: int) -> Iterator[str]:
    """Per BEP instance: our evacuation time (and the greedy's) against the reference value.

    On the tiny instances the exact search (``benchmarks.bep_exact``) also gives the proven optimum under the
    instance's model; where it is above the reference value, that reference cannot be reached by any plan, and
    the second summary measures against the optimum instead (both summaries are printed).
    """
    files = bep.instance_files()
    if not files:
        yield f"Skipped the BEP benchmark: no instances under {bep.BEP_DIR}."
        return
    reference = bep.reference_values()
    solve = _ours()
    yield from [
        "| instance | buses | loads | reference | exact | ours | gap % | time (s) | greedy | gap % | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    gaps: dict[str, list[float]] = {"ours": [], "greedy": []}
    fair: dict[str, list[float]] = {"ours": [], "greedy": []}
    for path in files:
        inst = bep.read_bep(path)
        problem = bep.bep_problem(inst)
        ref = reference.get(inst.name)
        optimum, exact_cell, e_bad = _bep_exact(inst, problem)
        fair_ref = ref if ref is None or optimum is None else max(ref, optimum)
        if solve is None:
            ours_cells, bad = "– | – | –", 0
        else:
            gap, wall, bad, cell, value = _bep_result(problem, lambda p: solve(p, time_limit, seed), ref)
            ours_cells = f"{cell} | {_f(gap)} | {wall:.2f}"
            if gap is not None and value is not None and fair_ref is not None:
                gaps["ours"].append(gap)
                fair["ours"].append(100.0 * (value - fair_ref) / fair_ref)
        g_gap, _, g_bad, g_cell, g_value = _bep_result(problem, solve_greedy, ref)
        if g_gap is not None and g_value is not None and fair_ref is not None:
            gaps["greedy"].append(g_gap)
            fair["greedy"].append(100.0 * (g_value - fair_ref) / fair_ref)
        check = "valid" if bad + g_bad + e_bad == 0 else f"**{bad + g_bad + e_bad} violations**"
        yield (f"| {inst.name} | {inst.buses} | {len(problem.households)} | {_f(ref, 0)} | {exact_cell} | "
               f"{ours_cells} | {g_cell} | {_f(g_gap)} | {check} |")
    yield ""
    for method, values in gaps.items():
        if values:
            yield _gap_summary(method, values, "the reference file's")
    for method, values in fair.items():
        if values:
            yield _gap_summary(method, values, "the reference, or the proven optimum where that is higher")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,1000", help="households per instance, comma-separated")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP, help="OSM .pbf map (default: heidelberg.test.pbf)")
    parser.add_argument("--time-limit", type=float, default=get_settings().time_limit_seconds,
                        help="our solver's seconds per instance; VROOM gets 3x in total per mode")
    parser.add_argument("--vroom-factor", type=float, default=3.0,
                        help="VROOM's seconds per mode, as a multiple of --time-limit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=180.0, help="the random instances' deadline, minutes")
    parser.add_argument("--far-shelters", action="store_true",
                        help="homes in the town's inner half, shelters at its edge (try --deadline 240)")
    parser.add_argument("--bep", action="store_true", help="also run the Bus Evacuation Problem instances")
    parser.add_argument("--bep-time-limit", type=float, default=5.0,
                        help="our solver's seconds per BEP instance (the target allows 10 s each)")
    parser.add_argument("--no-map", action="store_true", help="skip the map benchmark (e.g. with --bep)")
    parser.add_argument("--needs-size", type=int, default=1000,
                        help="households in the needs benchmark (0 skips it)")
    parser.add_argument("--ours-only", action="store_true",
                        help="run only our solver on the map instances (the peers' rows come from an earlier run)")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def emit(lines: Iterator[str] | list[str]) -> None:
        for line in lines:
            print(line, flush=True)
            report.append(line)

    report: list[str] = []
    emit(["# Benchmark", "",
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"seed {args.seed}; command: `python -m benchmarks.run {' '.join(sys.argv[1:] if argv is None else argv)}`",
          ""])
    if not args.no_map:
        emit(["## Random instances on a real map", ""])
        emit(map_section(args.map, sizes, args.time_limit, args.seed, args.vroom_factor, args.deadline,
                         args.far_shelters, peers=not args.ours_only))
        emit([""])
        if args.needs_size:
            emit(["## Needs rules and pickup targets", ""])
            emit(needs_section(args.map, args.needs_size, args.time_limit, args.seed, args.vroom_factor))
            emit([""])
    if args.bep:
        emit(["## Bus Evacuation Problem (Bish 2011; CEC 2017 GRASP instances)", "",
              f"Evacuation time = our clearance minute; reference = best of CPLEX and GRASP (random sets only). "
              f"Our time limit {args.bep_time_limit:g} s per instance.", ""])
        emit(bep_section(args.bep_time_limit, args.seed))
        emit([""])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
