"""The ``evac`` command line: progress on stderr, results on stdout, one-line errors with stable exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from matcher.errors import EvacError, SolverError
from matcher.settings import Settings, get_settings
from matcher.timings import Stopwatch, process_start

if TYPE_CHECKING:
    from matcher.plan import Plan
    from matcher.region import Executor
    from matcher.scenario import Scenario

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evacuation ride-share matcher.")


@app.callback()
def main() -> None:
    """Plan evacuations: match volunteer drivers to households who cannot leave on their own."""


def _say(message: str) -> None:
    typer.echo(f"[evac] {message}", err=True)


def _write_json(path: Path, data: Any, *, pretty: bool = False) -> None:
    """Write with orjson (C, about 20x the standard encoder with ``indent``) through a temporary file.

    A crash never leaves half a file behind. ``pretty`` indents by two spaces; the default is compact.
    """
    import orjson

    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if pretty else 0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=option))
    tmp.replace(path)


def export_matrix(problem: Any) -> dict[str, Any]:
    """Travel minutes among all locations, ``null`` where unreachable, in the order of ``locations``."""
    import numpy as np

    minutes = problem.travel.minutes
    rows = np.where(np.isfinite(minutes), np.round(minutes, 3), np.nan).tolist()
    return {
        "locations": [{"kind": ref.kind, "id": ref.id} for ref in problem.travel.locations],
        "minutes": [[None if v != v else v for v in row] for row in rows],
    }


@dataclass(frozen=True)
class _Outputs:
    """Where ``evac plan`` writes, and how."""

    out: Path | None
    geojson: Path | None
    matrix: Path | None
    pretty: bool


def _load(scenario: Path, data: dict[str, Any], settings: Settings, watch: Stopwatch) -> Scenario:
    """Load the (read and validated) scenario's map (cached) and build the travel times, one stage each."""
    from matcher.roads.load import load_road_graph
    from matcher.scenario import Scenario, problem_on_graph, resolve_map

    map_path = resolve_map(data, scenario.parent.resolve())
    watch.lap("read scenario")
    _say(f"loading map {map_path.name}")
    graph = load_road_graph(map_path, settings.cache_dir)
    watch.lap("road map")
    problem, closures = problem_on_graph(data, graph, settings, _say)
    watch.lap("travel times")
    return Scenario(scenario, map_path, problem, graph, closures, data)


def _bar(done: int, total: int) -> None:
    """A progress bar of zones solved, one line per zone (stderr is often a log, not a terminal)."""
    width = 20
    filled = round(width * done / max(total, 1))
    _say(f"zones [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")


@dataclass(frozen=True)
class _Regional:
    """How to plan by zones: the zones file, the Dask scheduler or local workers, the limit and seed."""

    zones: Path | None
    scheduler: str | None
    workers: int | None
    limit: float
    seed: int


def _is_regional(data: dict[str, Any], how: _Regional, forced: bool | None, settings: Settings) -> bool:
    if forced is not None:
        return forced
    listed = data.get("households")
    households: list[Any] = listed if isinstance(listed, list) else []
    zoned = any(isinstance(h, dict) and h.get("zone") for h in households)
    return how.zones is not None or zoned or len(households) > settings.region_min_households


#: Entry-point group of the executors that run zone solves elsewhere (``cluster`` registers ``dask``).
EXECUTOR_GROUP = "evac.executors"


@contextmanager
def _executor(workers: int, scheduler: str | None) -> Iterator[Executor]:
    """Zone solves here (0 workers, no scheduler) or on the executor registered as ``dask``.

    The matcher imports no network code: a cluster comes from the ``evac.executors`` entry point, which
    the ``cluster`` package provides (``executor_for(workers, scheduler)``, a context manager).
    """
    from importlib.metadata import entry_points

    from matcher.region import SerialExecutor

    if workers == 0 and scheduler is None:
        yield SerialExecutor()
        return
    found = [e for e in entry_points(group=EXECUTOR_GROUP) if e.name == "dask"]
    if not found:
        raise EvacError("zone solves on Dask need the executor registered as 'dask' in the entry-point group "
                        f"{EXECUTOR_GROUP!r} (the project's cluster package: pip install -e .); or use --workers 0")
    with found[0].load()(workers, scheduler) as executor:
        yield executor


def _solve_regional(scenario: Path, data: dict[str, Any], how: _Regional, settings: Settings,
                    watch: Stopwatch) -> tuple[Scenario, Plan]:
    """Zone, time and solve a scenario by zones; the Dask cluster starts while the travel times are computed."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    from matcher.region import RegionParams, region_from_dict, solve_region
    from matcher.roads.closures import edge_closures
    from matcher.roads.load import load_road_graph
    from matcher.scenario import Scenario, resolve_map
    from matcher.zones import read_zones_file

    zones_file = read_zones_file(how.zones) if how.zones is not None else None
    map_path = resolve_map(data, scenario.parent.resolve())
    workers = settings.dask_workers if how.workers is None else how.workers
    stack = ExitStack()
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(lambda: stack.enter_context(_executor(workers, how.scheduler or
                                                                     settings.dask_scheduler)))
        try:
            _say(f"loading map {map_path.name}")
            graph = load_road_graph(map_path, settings.cache_dir)
            watch.lap("road map")
            params = RegionParams(time_limit_seconds=how.limit, seed=how.seed,
                                  zone_households=settings.zone_households)
            region = region_from_dict(data, graph, zones_file=zones_file, params=params, settings=settings,
                                      progress=_say)
            watch.lap("zones and travel times")
            executor = starting.result()
            watch.lap("cluster ready")
            result = solve_region(region, params, executor, _say, _bar)
            watch.lap("zone solves")
        finally:
            starting.exception()  # wait for the cluster to be up (or failed) before closing it
            stack.close()
    closures = region.closures if region.closures is not None else edge_closures(graph, (), ())
    return Scenario(scenario, map_path, region.problem, graph, closures, data), result


def _check(loaded: Scenario, result: Plan) -> None:
    """Re-check the plan on the map; a violation is a solver bug (``SolverError``, exit code 3)."""
    from matcher.check import check_plan

    violations = check_plan(loaded.problem, result, loaded.graph, loaded.closed_mask)
    if violations:
        for v in violations[:20]:
            _say(f"plan check: {v}")
        raise SolverError(f"the plan failed its check ({len(violations)} violations); this is a bug")
    _say("plan check: ok")


def _write(outputs: _Outputs, loaded: Scenario, result: Plan, watch: Stopwatch) -> None:
    if outputs.out is not None:
        _write_json(outputs.out, result.to_dict(), pretty=outputs.pretty)
        _say(f"plan written to {outputs.out}")
        watch.lap("write plan")
    if outputs.geojson is not None:
        from matcher.geojson import plan_to_geojson

        _write_json(outputs.geojson, plan_to_geojson(result, loaded.problem), pretty=outputs.pretty)
        _say(f"GeoJSON written to {outputs.geojson}")
        watch.lap("write GeoJSON")


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan JSON here.")] = None,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write the plan as GeoJSON here.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed and limit, same plan.")] = 0,
    matrix_out: Annotated[
        Path | None, typer.Option("--export-matrix", help="Write the travel-time matrix JSON here.")
    ] = None,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON files (larger, slower).")] = False,
    timings: Annotated[bool, typer.Option("--timings", help="Print seconds per stage on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="One summary line per driver.")] = False,
    ids_only: Annotated[
        bool, typer.Option("--ids-only", help="Leave names and phones out of the summary (for logs).")
    ] = False,
    zones: Annotated[
        Path | None, typer.Option("--zones", help="Zones GeoJSON (named polygons): plan by these zones.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address for zone solves (else a local "
                                 "cluster; also EVAC_DASK_SCHEDULER).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Local Dask workers for zone solves (0: in this process).")
    ] = None,
    regional: Annotated[
        bool | None, typer.Option("--regional/--single", help="Plan by zones, or as one problem (default: by "
                                  "zones when zones are given, households have zones, or there are many).")
    ] = None,
) -> None:
    """Solve a scenario: print a summary, optionally write the plan, its GeoJSON and the matrix."""
    from matcher.phones import check_phones
    from matcher.scenario import read_scenario_file, records_of
    from matcher.solver import SolveParams, solve
    from matcher.summary import format_summary

    watch = Stopwatch(started=process_start())
    watch.lap("start-up")
    settings = get_settings()
    outputs = _Outputs(out, geojson, matrix_out, pretty)
    limit = settings.time_limit_seconds if time_limit is None else time_limit
    how = _Regional(zones, scheduler, workers, limit, seed)
    try:
        data = read_scenario_file(scenario)
        households, drivers, _ = records_of(data)  # bad records fail before the map is touched
        check_phones([*households, *drivers], settings.phone_region)
        if _is_regional(data, how, regional, settings):
            watch.lap("read scenario")
            loaded, result = _solve_regional(scenario, data, how, settings, watch)
        else:
            loaded = _load(scenario, data, settings, watch)
        if outputs.matrix is not None:
            _write_json(outputs.matrix, export_matrix(loaded.problem), pretty=pretty)
            _say(f"matrix written to {outputs.matrix}")
            watch.lap("write matrix")
        if not _is_regional(data, how, regional, settings):
            # The safety stop counts this process's CPU seconds, as a drill's does: on a busy machine the same seed
            # and limit still give the same plan (on the wall clock the stop cut the search at load 6 in a test run).
            params = SolveParams(time_limit_seconds=limit, seed=seed, safety_clock="cpu")
            result = solve(loaded.problem, params, _say, watch.lap)
        _check(loaded, result)
        watch.lap("check")
        _write(outputs, loaded, result, watch)
        typer.echo(format_summary(result, loaded.problem, time_limit=limit, verbose=verbose, contacts=not ids_only))
        watch.lap("summary")
        if timings:
            _say("timings (wall seconds from process start):")
            for line in watch.lines():
                _say(line)
    except EvacError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None


#: Entry-point group through which other packages add commands (the service adds serve, db, admin, worker).
PLUGIN_GROUP = "evac.commands"


def load_plugins(target: typer.Typer, group: str = PLUGIN_GROUP) -> list[str]:
    """Add every command or Typer sub-app registered under ``group``; their names, in order.

    A plugin that fails to load is reported on stderr and skipped, so a broken add-on never stops ``evac plan``.
    The matcher knows no plugin by name: it stays free of the service.
    """
    from importlib.metadata import entry_points

    added: list[str] = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            obj = entry.load()
        except Exception as exc:  # any import failure of an add-on, whatever it is
            _say(f"warning: command {entry.name!r} ({entry.value}) not loaded: {type(exc).__name__}: {exc}")
            continue
        if isinstance(obj, typer.Typer):
            target.add_typer(obj, name=entry.name)
        elif callable(obj):
            target.command(name=entry.name)(obj)
        else:
            _say(f"warning: command {entry.name!r} ({entry.value}) is neither a Typer app nor a function")
            continue
        added.append(entry.name)
    return added


load_plugins(app)


if __name__ == "__main__":  # pragma: no cover
    app()
