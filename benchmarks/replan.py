"""Re-planning benchmark: events at minute 30 of a 1,000-household evacuation, our re-plan against peers.

    python -m benchmarks.replan [--households 1000] [--map FILE.pbf] [--minute 30] [--seed 1] [--out FILE.md]

One random instance on a real map is solved; at ``--minute`` five drivers drop out, ten households are
no-shows, ten new households call in and a flood zone closes the roads around one neighbourhood.
The re-plan is timed as the service does it: the current problem built from the previous one (the travel
times updated for the new closure and places), then ``replan_checked`` with the service's policy (repair,
improve when worth it, check the future on the open roads). Then each peer plans the same residual problem:
our repair alone, our repair with improvement, our full solve from scratch, the greedy dispatcher and VROOM.
Figures: time (wall and CPU), households served, clearance, and stability (the share of households waiting for
a driver who is still driving that keep that driver). Every plan is checked.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.instances import build_problem, random_instance
from benchmarks.peers.greedy import solve_greedy
from benchmarks.peers.vroom_peer import solve_vroom
from benchmarks.run import DEFAULT_MAP
from matcher.check import check_plan
from matcher.live import Closures, LiveEvent, LiveState, places_needed, residual_problem
from matcher.plan import Plan
from matcher.roads.load import load_road_graph
from matcher.scenario import problem_on_graph
from matcher.solver import SolveParams, solve
from matcher.solver.replan import DEFAULT_POLICY, replan, replan_checked

#: What happened at the minute, for the service's re-plan policy.
EVENTS = frozenset({LiveEvent.DROPOUT, LiveEvent.NO_SHOW, LiveEvent.NEW_REQUEST, LiveEvent.CLOSURE})


def _circle(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    dlat = radius_m / 111_320.0
    dlon = dlat / math.cos(math.radians(lat))
    ring = [[lon + dlon * math.cos(a), lat + dlat * math.sin(a)] for a in np.linspace(0, 2 * math.pi, 17)]
    return {"type": "Polygon", "coordinates": [ring]}


def _events(scenario: dict[str, Any], plan: Plan, minute: float, rng: np.random.Generator) -> tuple[
        dict[str, Any], LiveState]:
    """The picture at ``minute``: stops done by then, 5 drop-outs, 10 no-shows, 10 new calls, one flood zone."""
    completed = {r.driver_id: sum(1 for s in r.stops if s.depart_minute <= minute) for r in plan.routes}
    busy = sorted(r.driver_id for r in plan.routes if len(r.stops) > completed[r.driver_id])
    dropped = frozenset(rng.choice(busy, size=min(5, len(busy)), replace=False).tolist())
    waiting = sorted({str(s.household_id) for r in plan.routes for s in r.stops[completed[r.driver_id]:]
                      if s.type == "pickup"})
    no_shows = frozenset(rng.choice(waiting, size=min(10, len(waiting)), replace=False).tolist())
    current = dict(scenario)
    homes = scenario["households"]
    new = []
    for k in range(10):
        template = homes[int(rng.integers(len(homes)))]
        new.append({**template, "id": f"N{k + 1}", "name": f"Caller {k + 1}", "ready_from_minute": minute})
    current["households"] = [*homes, *new]
    centre = homes[int(rng.integers(len(homes)))]
    alert = dict(scenario["alert"])
    alert["flood_zones"] = [_circle(centre["lon"], centre["lat"], 250.0)]
    current["alert"] = alert
    return current, LiveState(minute, completed, dropped, no_shows, new_requests=frozenset(h["id"] for h in new),
                              closures=Closures((), 1), events=EVENTS)


def _stability(previous: Plan, state: LiveState, plan: Plan) -> float:
    """Share of households waiting (at state.minute) for a driver still driving that keep that driver."""
    before = {}
    for r in previous.routes:
        if r.driver_id in state.dropped_drivers:
            continue
        for s in r.stops[state.completed.get(r.driver_id, 0):]:
            if s.type == "pickup":
                before[str(s.household_id)] = r.driver_id
    after = {str(s.household_id): r.driver_id for r in plan.routes for s in r.stops if s.type == "pickup"}
    kept = [h for h in before if h in after]
    return sum(after[h] == before[h] for h in kept) / len(kept) if kept else 1.0


class Timer:
    """Wall and CPU seconds (this process: the solver's threads included) of a block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP)
    parser.add_argument("--minute", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=6.0, help="the first plan's time limit")
    parser.add_argument("--replan-limit", type=float, default=1.5)
    parser.add_argument("--resolve-limit", type=float, help="the full re-solve's time limit (default: --time-limit)")
    parser.add_argument("--no-vroom", action="store_true", help="leave VROOM out (it takes 10 s or more)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not args.map.is_file():
        print(f"skipped: map {args.map} not found (../shared/maps is needed for this benchmark)")
        return 0
    rng = np.random.default_rng(args.seed)
    graph = load_road_graph(args.map)
    scenario = random_instance(graph, args.households, seed=args.seed)
    problem = build_problem(scenario, graph)
    # Every search on the CPU clock's far safety stop (a drill's): a busy machine changes the seconds, not the plans.
    first = solve(problem, SolveParams(time_limit_seconds=args.time_limit, seed=args.seed, safety_clock="cpu"))
    current, state = _events(scenario, first, args.minute, rng)
    with Timer() as rebuild:
        build_problem(current, graph)
    said: list[str] = []
    params = SolveParams(time_limit_seconds=args.replan_limit, seed=args.seed, safety_clock="cpu")
    # The re-plan as the service does it: the problem from the previous one (the travel times updated among the
    # places the re-plan reads), then the checked re-plan.
    with Timer() as update:
        needed = places_needed(first, state, (h["id"] for h in current["households"]),
                               (d["id"] for d in current["drivers"]), (s["id"] for s in current["shelters"]))
        now, closures = problem_on_graph(current, graph, previous=problem, progress=said.append, needed=needed)
    with Timer() as replanning:
        outcome = replan_checked(now, first, state, params, DEFAULT_POLICY, road_graph=graph, closed_mask=closures.mask)
    news = ("travel times updated", "travel times rebuilt")
    how = next((m.split(": ", 1)[1] for m in said if m.startswith(news)), "?")
    residual = residual_problem(now, first, state).problem
    total = update.wall + replanning.wall
    lines = [
        f"Re-plan at minute {args.minute:g} of {args.households} households on {args.map.name}: "
        f"{len(state.dropped_drivers)} drop-outs, {len(state.no_shows)} no-shows, 10 new calls, one flood zone "
        f"(first plan: clearance {first.metrics.clearance_minute:.1f} min); "
        f"{len(residual.households)} households still waiting.",
        "",
        f"The re-plan as the service does it: travel-time update {update} ({how}) + re-plan {replanning} "
        f"({'repair + improvement' if outcome.improved else 'repair; the policy saw nothing worth improving'}, "
        f"checked) = **{total:.2f} s** (CPU {update.cpu + replanning.cpu:.2f} s). Rebuilding the travel times "
        f"instead took {rebuild}.",
        "",
        "| method | time (s) | CPU (s) | served | clearance (min) | stability | check |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]

    def row(name: str, timer: Timer, plan: Plan, stability: float, violations: int) -> None:
        check = "valid" if violations == 0 else f"**{violations} violations**"
        lines.append(f"| {name} | {timer.wall:.2f} | {timer.cpu:.2f} | {plan.metrics.households_served} | "
                     f"{plan.metrics.clearance_minute:.1f} | {stability:.3f} | {check} |")
        print(lines[-1], flush=True)

    result = outcome.result
    row("**ours: re-plan** (policy, checked; + update)", _sum(update, replanning), result.future, result.stability,
        len(check_plan(result.residual, result.future)))
    for name, improve in (("ours: repair only", False), (f"ours: repair + {args.replan_limit:g} s improvement", True)):
        with Timer() as timer:
            other = replan(now, first, state, dataclasses.replace(params, improve=improve))
        row(name, timer, other.future, other.stability, len(check_plan(other.residual, other.future)))
    resolve_limit = args.resolve_limit or args.time_limit
    peers: list[tuple[str, Callable[[], Plan]]] = [
        (f"full re-solve of what is left ({resolve_limit:g} s)",
         lambda: solve(residual, SolveParams(time_limit_seconds=resolve_limit, safety_clock="cpu"))),
        ("greedy re-dispatch", lambda: solve_greedy(residual)),
    ]
    if not args.no_vroom:
        peers.append(("VROOM plain", lambda: solve_vroom(residual, time_limit_seconds=3 * args.replan_limit).plan))
    full: Plan | None = None
    for name, fn in peers:
        with Timer() as timer:
            plan = fn()
        full = full or plan
        row(name, timer, plan, _stability(first, state, plan), len(check_plan(residual, plan)))
    assert full is not None
    gap = result.future.metrics.clearance_minute / full.metrics.clearance_minute - 1
    lines.append("")
    lines.append(f"Our re-plan clears {100 * gap:+.1f}% against the full re-solve at stability {result.stability:.3f}. "
                 "Every row plans the same residual problem: drivers where their last completed stop left them, "
                 "or at the stop they are on their way to, riders on board first delivered.")
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def _sum(a: Timer, b: Timer) -> Timer:
    out = Timer()
    out.wall, out.cpu = a.wall + b.wall, a.cpu + b.cpu
    return out


if __name__ == "__main__":
    sys.exit(main())
