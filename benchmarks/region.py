"""The regional benchmark: 10,000 households on Porto by zones on Dask, side by side with its peers; a scaling table.

    python -m benchmarks.region [--households 10000] [--time-limit 40] [--scaling 1000,2500,5000,10000,20000]
                                [--no-single] [--no-vroom] [--write-scenario FILE.yaml]

One run prints (markdown): the travel times (seconds, peak memory) of the bounded table; our regional solve
with 1 and 2 Dask workers (wall, first plan, served, clearance); the whole-region single solve on the same
table (our time limit, or ``--single-factor`` times it); the pooled greedy; VROOM given the same zones (each
zone's sub-problem, bisected shift end) and three times the wall time of our last run in total; then the
issue's targets against the peers of this run. Every plan is checked by ``matcher.check`` (road legs
included). Then each scaling size runs in its own process (so its peak memory is its own) with 2 workers.
Skips with a message when the shared maps folder is absent.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.instances import random_instance, write_scenario
from matcher.check import check_plan
from matcher.plan import Plan
from matcher.region import Region, RegionParams, ZoneResult, _visits_of, assemble, region_from_dict, solve_region
from matcher.roads.graph import RoadGraph
from matcher.roads.load import load_road_graph
from matcher.settings import get_settings

#: The shared folder beside the checkout (``/work/shared`` for ``/work/main`` and for ``/work/wt/<name>``).
SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[1:4] if (p / "shared" / "maps").is_dir()),
              Path(__file__).resolve().parents[2] / "shared")
DEFAULT_MAP = SHARED / "maps" / "porto_portugal.osm.pbf"
DEADLINE = 240.0


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def instance(graph: RoadGraph, households: int, seed: int, map_path: Path) -> dict[str, Any]:
    """The regional instance: one car per five households, one shelter per 250 (at least 5), 240 minutes."""
    return random_instance(graph, households, households // 5, max(5, households // 250), seed=seed,
                           name=f"Porto regional {households} households", map_path=map_path,
                           deadline_minutes=DEADLINE)


def _checked(region: Region, plan: Plan, graph: RoadGraph) -> int:
    closed = region.closures.mask if region.closures else None
    return len(check_plan(region.problem, plan, graph, closed))


def _cpu(executor: Any) -> float:
    """CPU seconds (user + system) of this process and of the executor's Dask workers, if any."""
    here = time.process_time()
    client = getattr(executor, "client", None)
    if client is None:
        return here
    return here + sum(client.run(time.process_time).values())


def ours(region: Region, params: RegionParams, workers: int) -> tuple[Plan, float, float]:
    """Our regional solve on a fresh local cluster of ``workers`` (cluster start-up not counted):
    the plan, wall seconds and CPU seconds (this process and the workers)."""
    from cluster import executor_for

    with executor_for(workers) as executor:
        started, cpu = time.perf_counter(), _cpu(executor)
        plan = solve_region(region, params, executor)
        return plan, time.perf_counter() - started, _cpu(executor) - cpu


def zone_replan(region: Region, plan: Plan, graph: RoadGraph, minute: float, seed: int) -> list[str]:
    """A drop-out at ``minute`` re-planned zone by zone, as the service does (its default 8 s limit)."""
    from matcher.codes import StopStatus
    from matcher.live import LiveEvent, StopReport, derive_state
    from matcher.region_replan import replan_region
    from matcher.solver import SolveParams

    minute = min(minute, plan.metrics.clearance_minute / 3)  # a small test map clears early
    reports = [StopReport(r.driver_id, i, StopStatus.PICKED_UP if st.type == "pickup" else StopStatus.DROPPED_OFF,
                          st.household_id)
               for r in plan.routes for i, st in enumerate(r.stops) if st.depart_minute <= minute]
    busy = sorted(r.driver_id for r in plan.routes if r.stops and r.stops[-1].depart_minute > minute)
    if not busy:
        return [f"Zone re-plan: no driver still driving at minute {minute:g}; not measured."]
    gone = busy[len(busy) // 2]
    state = derive_state(plan, reports, minute, dropped_drivers=frozenset({gone}),
                         events=frozenset({LiveEvent.DROPOUT}))
    settings = get_settings()
    params = RegionParams(time_limit_seconds=settings.time_limit_seconds, seed=seed)
    closed = region.closures.mask if region.closures else None
    started, cpu = time.perf_counter(), time.process_time()
    done = replan_region(region, region.problem, plan, state, SolveParams(settings.time_limit_seconds, seed=seed),
                         road_graph=graph, closed_mask=closed,
                         seconds_per_zone=params.zone_seconds(len(region.zones.names)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    m = done.plan.metrics
    return [f"Zone re-plan after driver {gone} dropped out at minute {minute:.0f}: zones {', '.join(done.zones)} "
            f"({len(done.zones)} of {len(region.zones.names)}), {done.kept_drivers:,} drivers kept as they were; "
            f"**{wall:.1f} s wall, {cpu:.1f} s CPU** (load {_load()}); improved: {done.outcome.improved}; "
            f"stability {done.outcome.stability:.3f}; {m.households_served:,} served, clearance "
            f"{m.clearance_minute:.1f} min (both parts checked)."]


def vroom_by_zones(region: Region, params: RegionParams, budget_seconds: float) -> tuple[Plan, float]:
    """VROOM on each zone's sub-problem (same zones, cars and room as our first round), bisected shift end."""
    from benchmarks.peers.vroom_peer import solve_vroom_bisect

    started = time.perf_counter()
    n = len(region.zones.names)
    results: list[ZoneResult] = []
    for z in range(n):
        group = frozenset({z})
        task = region.task(group, params.zone_seconds(n), params.seed)
        if task is None:
            results.append(region.no_car(group))
            continue
        run = solve_vroom_bisect(task.problem, budget_seconds=budget_seconds / n)
        plan = run.plan
        results.append(ZoneResult(task.label, _visits_of(plan), plan.unserved, plan.metrics.clearance_minute, 0,
                                  run.wall_seconds))
    wall = time.perf_counter() - started
    return assemble(region, results, wall, None), wall


#: VROOM gets this many times our time (the issue: "VROOM given the same zones and three times our time").
VROOM_FACTOR = 3.0
#: The issue's clearance target against the pooled greedy.
GREEDY_SHARE = 0.85


def vroom_budget(limit: float, ours_wall: float | None) -> tuple[float, str]:
    """VROOM's seconds in all and how they were set: three times the wall time of our run in this one (the
    whole regional solve, as a coordinator waits for it), or three times our limit when ours did not run."""
    if ours_wall is None:
        return VROOM_FACTOR * limit, f"{VROOM_FACTOR:g}x our limit of {limit:g} s"
    return VROOM_FACTOR * ours_wall, f"{VROOM_FACTOR:g}x our {ours_wall:.1f} s"


def verdict(ours: Plan, peers: dict[str, Plan]) -> list[str]:
    """The issue's targets for ``ours`` against the peers measured in the same run (served ≥ every peer;
    clearance ≤ 0.85 × the pooled greedy's and ≤ the whole-region single solve's)."""
    m = ours.metrics
    lines = []
    worse = [name for name, p in peers.items() if p.metrics.households_served > m.households_served]
    lines.append(f"- served ≥ every peer: **{'met' if not worse else 'missed'}** ({m.households_served:,}"
                 + (f"; more: {', '.join(worse)})" if worse else ")"))
    for name, share, label in (("pooled greedy", GREEDY_SHARE, "0.85 × the pooled greedy's"),
                               ("whole-region single solve", 1.0, "the whole-region single solve's")):
        peer = peers.get(name)
        if peer is None:
            lines.append(f"- clearance ≤ {label}: not measured in this run")
            continue
        c = peer.metrics.clearance_minute
        ok = m.clearance_minute <= share * c + 1e-9
        lines.append(f"- clearance ≤ {label}: **{'met' if ok else 'missed'}** ({m.clearance_minute:.1f} against "
                     f"{share * c:.1f}; ratio {m.clearance_minute / c:.3f})")
    return lines


def _row(name: str, plan: Plan | None, wall: float, violations: int, households: int, note: str = "",
         cpu: float | None = None) -> str:
    """One table row: wall and CPU seconds, the load now, first plan, served, clearance, the check, a note."""
    if plan is None:
        return f"| {name} | – | – | – | – | – | – | – | {note} |"
    m = plan.metrics
    first = "–" if m.first_plan_seconds is None else f"{m.first_plan_seconds:.1f}"
    check = "valid" if violations == 0 else f"**{violations} violations**"
    used = "–" if cpu is None else f"{cpu:.1f}"
    return (f"| {name} | {wall:.1f} | {used} | {_load()} | {first} | {m.households_served}/{households} | "
            f"{m.clearance_minute:.1f} | {check} | {note} |")


def single_solve(region: Region, limit: float, seed: int) -> tuple[Plan, float, float, str]:
    """The whole-region single solve on the regional table: the plan, wall and CPU seconds, and a note on its
    search (the improvement's rounds; whether the far safety stop, on the wall clock, cut it)."""
    from matcher.solver import SolveParams, solve

    params = SolveParams(time_limit_seconds=limit, seed=seed)
    said: list[str] = []
    laps: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()

    def lap(stage: str) -> float:
        laps[stage] = time.perf_counter() - started
        return laps[stage]

    plan = solve(region.problem, params, progress=said.append, lap=lap)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    rounds = next((m.split(": ", 1)[1] for m in said if m.startswith("improvement:")), "no improvement")
    note = f"limit {limit:g} s; improvement {rounds}"
    if laps.get("improvement", 0.0) >= params.safety_stop():
        note += f", cut by the safety stop at {params.safety_stop():g} s (wall clock: not repeatable)"
    return plan, wall, used, note


def side_by_side(map_path: Path, households: int, limit: float, seed: int, single: bool, vroom: bool,
                 write: Path | None, replan: bool = True, workers_list: list[int] | None = None,
                 single_factor: float = 1.0) -> list[str]:
    """The main table; see the module doc."""
    graph = load_road_graph(map_path, get_settings().cache_dir)
    data = instance(graph, households, seed, map_path)
    if write is not None:
        write_scenario(data, write)
    params = RegionParams(time_limit_seconds=limit, seed=seed)
    before = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    region = region_from_dict(data, graph, params=params)
    build = time.perf_counter() - started
    lines = [
        f"Instance: {households:,} households, {len(data['drivers']):,} cars, {len(data['shelters'])} shelters, "
        f"{len(region.zones.names)} zones (clusters on the road network), deadline {DEADLINE:g} min, "
        f"map `{map_path.name}` ({graph.vertex_count:,} graph vertices). Time limit {limit:g} s.",
        "",
        f"Travel times (bounded searches, {len(region.problem.travel.locations):,} places): "
        f"{region.timings['travel_seconds']:.1f} s wall; zones and sharing {region.timings['zones_seconds']:.1f} s; "
        f"region built in {build:.1f} s wall, {time.process_time() - cpu:.1f} s CPU; peak memory "
        f"{peak_mb():,.0f} MB (before: {before:,.0f} MB, the map).",
        "",
        "| method | wall (s) | CPU (s) | load after | first plan (s) | served | clearance (min) | check | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    fresh = (region.serving.copy(), region.capacity.copy())  # each run starts from the same lending and room

    def reset() -> None:
        region.serving[:], region.capacity[:] = fresh

    replan_lines: list[str] = []
    last: tuple[Plan, float] | None = None  # our plan and wall time of the last (most workers) run
    first_plan: Plan | None = None
    for run, workers in enumerate(workers_list or [1, 2]):
        if run:
            # Each run on a region of its own: a run fills the table as it lends cars (exact rows for lent cars,
            # columns for households they must reach), so a second run on the same table would solve zones with
            # drives the first one computed: another problem, and not the same plan (seen at 10,000 households).
            region = region_from_dict(data, graph, params=params)
            fresh = (region.serving.copy(), region.capacity.copy())
        reset()
        plan, wall, cpu = ours(region, params, workers)
        lines.append(_row(f"ours, regional, {workers} Dask worker{'s' if workers != 1 else ''}", plan, wall,
                          _checked(region, plan, graph), households, cpu=cpu,
                          note="" if first_plan is None else
                          f"the same plan as {workers_list[0] if workers_list else 1} worker(s): "
                          f"{'yes' if _same(plan, first_plan) else '**no**'}"))
        first_plan = first_plan or plan
        last = (plan, wall)
        if workers == max(workers_list or [2]) and replan:
            replan_lines = zone_replan(region, plan, graph, 30.0, seed)
    peers: dict[str, Plan] = {}
    if single:
        plan, wall, cpu, note = single_solve(region, single_factor * limit, seed)
        peers["whole-region single solve"] = plan
        lines.append(_row("whole-region single solve (same table)", plan, wall, _checked(region, plan, graph),
                          households, note, cpu=cpu))
    from benchmarks.peers.greedy import solve_greedy

    started, cpu = time.perf_counter(), time.process_time()
    plan = solve_greedy(region.problem)
    peers["pooled greedy"] = plan
    lines.append(_row("pooled greedy (whole region)", plan, time.perf_counter() - started,
                      _checked(region, plan, graph), households, cpu=time.process_time() - cpu))
    if vroom:
        reset()
        budget, why = vroom_budget(limit, None if last is None else last[1])
        cpu = time.process_time()
        plan, wall = vroom_by_zones(region, params, budget)
        peers["VROOM by zones"] = plan
        lines.append(_row("VROOM by the same zones, bisected", plan, wall, _checked(region, plan, graph), households,
                          f"budget {budget:.0f} s in all ({why}), split evenly among the zones",
                          cpu=time.process_time() - cpu))
    if last is not None:
        lines += ["", "Targets against this run's peers (our last run):", *verdict(last[0], peers)]
    lines += ["", *replan_lines]
    lines.append("")
    lines.append(f"Peak memory of this process: {peak_mb():,.0f} MB (the region, our runs' main side, the single "
                 "solve and the peers; Dask workers are processes of their own).")
    return lines


def _same(a: Plan, b: Plan) -> bool:
    """The same plan: routes, unserved and zones equal (timings aside)."""
    da, db = a.to_dict(), b.to_dict()
    return all(da.get(k) == db.get(k) for k in ("routes", "unserved", "zones"))


def one_size(map_path: Path, households: int, limit: float, seed: int) -> dict[str, Any]:
    """One scaling row, measured in this process (run it in its own process for its own peak memory)."""
    graph = load_road_graph(map_path, get_settings().cache_dir)
    data = instance(graph, households, seed, map_path)
    params = RegionParams(time_limit_seconds=limit, seed=seed)
    started, cpu = time.perf_counter(), time.process_time()
    region = region_from_dict(data, graph, params=params)
    build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
    travel_mb = peak_mb()
    plan, wall, solve_cpu = ours(region, params, 2)
    violations = _checked(region, plan, graph)
    return {"households": households, "places": len(region.problem.travel.locations),
            "zones": len(region.zones.names), "travel_s": region.timings["travel_seconds"], "build_s": build,
            "travel_mb": travel_mb, "solve_s": wall, "first_s": plan.metrics.first_plan_seconds,
            "served": plan.metrics.households_served, "clearance": plan.metrics.clearance_minute,
            "violations": violations, "peak_mb": peak_mb(), "build_cpu": build_cpu, "solve_cpu": solve_cpu,
            "load": _load()}


def scaling(map_path: Path, sizes: list[int], limit: float, seed: int) -> list[str]:
    lines = ["| households | places | zones | travel times (s) | region built (s, CPU s) | memory after (MB) "
             "| solve (s, CPU s) | first plan (s) | served | clearance (min) | check | peak memory (MB) | load |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for size in sizes:
        cmd = [sys.executable, "-m", "benchmarks.region", "--one", str(size), "--time-limit", str(limit),
               "--seed", str(seed), "--map", str(map_path)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            lines.append(f"| {size:,} | – | – | – | – | – | – | – | – | – | stopped: exit {done.returncode}: "
                         f"{tail[:120]} | – | {_load()} |")
            break
        r = json.loads(done.stdout.strip().splitlines()[-1])
        check = "valid" if r["violations"] == 0 else f"**{r['violations']} violations**"
        lines.append(f"| {size:,} | {r['places']:,} | {r['zones']} | {r['travel_s']:.1f} | {r['build_s']:.1f}, "
                     f"{r['build_cpu']:.1f} | {r['travel_mb']:,.0f} | {r['solve_s']:.1f}, {r['solve_cpu']:.1f} | "
                     f"{r['first_s']:.1f} | {r['served']:,} | {r['clearance']:.1f} | {check} | "
                     f"{r['peak_mb']:,.0f} | {r['load']} |")
    return lines


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP)
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--time-limit", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scaling", default="1000,2500,5000,10000,20000",
                        help="comma-separated sizes; empty for none")
    parser.add_argument("--no-single", action="store_true", help="skip the whole-region single solve")
    parser.add_argument("--single-factor", type=float, default=1.0,
                        help="the single solve's time limit as a multiple of ours (default 1: the same limit)")
    parser.add_argument("--no-vroom", action="store_true", help="skip VROOM by zones")
    parser.add_argument("--no-replan", action="store_true", help="skip the zone re-plan after a drop-out")
    parser.add_argument("--workers", default="1,2", help="Dask workers of our runs, comma-separated")
    parser.add_argument("--no-main", action="store_true", help="only the scaling table")
    parser.add_argument("--write-scenario", type=Path, help="also write the main instance as a scenario file")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.map.is_file():
        print(f"Skipped the regional benchmark: {args.map} is not there (it comes from the shared maps folder, "
              "../shared/maps; pass --map FILE.osm.pbf to use another map).")
        return 0
    if args.one is not None:
        print(json.dumps(one_size(args.map, args.one, args.time_limit, args.seed)))
        return 0
    print("## Regional benchmark\n")
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, load average {_load()} at the start "
          "(other work shares the 2 cores).\n")
    if not args.no_main:
        for line in side_by_side(args.map, args.households, args.time_limit, args.seed, not args.no_single,
                                 not args.no_vroom, args.write_scenario, not args.no_replan,
                                 [int(w) for w in args.workers.split(",") if w.strip()], args.single_factor):
            print(line, flush=True)
    sizes = [int(s) for s in args.scaling.split(",") if s.strip()]
    if sizes:
        print(f"\n### Scaling (time limit {args.time_limit:g} s, 2 Dask workers, one process per size)\n")
        for line in scaling(args.map, sizes, args.time_limit, args.seed):
            print(line, flush=True)
    print(f"\nLoad average at the end: {_load()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
