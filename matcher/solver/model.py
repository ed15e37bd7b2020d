"""The OR-Tools routing model of a group of cars and their requests; the only module importing OR-Tools.

Each request is a pickup node at the home and one delivery node per shelter it may go to, of which
exactly one is visited: OR-Tools chooses the shelter, within the room the group has at each shelter.
Drop-off service is charged once per shelter visit (not per household unloaded), which is how a car
unloads. Times are integer seconds inside the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util.optional_boolean_pb2 import BOOL_FALSE

from matcher.solver.construct import Trip, pickup_minutes
from matcher.solver.instance import Instance
from matcher.solver.safety import SafetyStop

SCALE = 60  # seconds per minute: OR-Tools works in integers
#: Wall seconds OR-Tools may spend restoring a warm start (see ``improve_group``).
RESTORE_SECONDS = 5.0
UNREACHABLE = 10**9
SPAN_COST = 1000
#: Cost of leaving a request out of a probe: above any possible driving cost.
LEAVE_OUT_PENALTY = 10**8
#: Arc-cost units of moving one household to another car in a re-plan: one minute of clearance.
MOVE_PENALTY = SPAN_COST * SCALE
#: Arc-cost units (seconds of driving) for a car whose driver does not speak the household's language,
#: when another car of the group does: a preference below clearance.
LANGUAGE_COST = 120


@dataclass(frozen=True)
class GroupResult:
    """New trips per car of the group (same order as given) and each request's shelter; None if nothing found."""

    trips: list[list[Trip]] | None
    shelter: dict[int, int] | None = None
    #: Size of the model solved (pickup and delivery nodes): the work unit of the round budget.
    nodes: int = 0
    #: The safety stop ended the search early (the result may differ from an uncut run).
    cut: bool = False


def _trips_from_route(nodes: list[int], pickup_of: list[int], shelter_of: list[int], n_req: int) -> list[Trip]:
    """Cut a node sequence into trips: a run of pickups, then the unloads that follow.

    Unloads at a second shelter in a row become a trip with no pickups that unloads only its riders.
    """
    trips: list[Trip] = []
    pickups: list[int] = []
    drops: list[tuple[int, int]] = []  # (request, shelter)

    def flush() -> None:
        first = True
        for s in dict.fromkeys(s for _, s in drops):
            unload = tuple(r for r, t in drops if t == s)
            trips.append(Trip(tuple(pickups) if first else (), s, unload))
            first = False

    for node in nodes:
        if node < n_req:
            if drops:
                flush()
                pickups, drops = [], []
            pickups.append(pickup_of[node])
        else:
            drops.append((pickup_of[node], shelter_of[node]))
    if pickups or drops:
        flush()
    return _plain(trips)


def _plain(trips: list[Trip]) -> list[Trip]:
    """The trips as plain pooled trips (``unload`` None) when each unloads exactly its own pickups.

    Nothing is then carried from one shelter to the next, and that is the form ruin and recreate edits
    (``ruin._simple``): written with explicit unloads, every car an OR-Tools round touched was closed to it, and
    on Baltimore far 1,000 that was 14 of the 20 wheelchair cars that set the clearance.
    """
    if all(t.pickups and t.unload is not None and sorted(t.unload) == sorted(t.pickups) for t in trips):
        return [Trip(t.pickups, t.shelter) for t in trips]
    return trips


@dataclass
class _Nodes:
    """The model's nodes: pickups ``0..n_req-1``, then one delivery node per allowed shelter, then start/end."""

    requests: list[int]
    pickup_of: list[int]  # request of every stop node (pickups and deliveries)
    shelter_of: list[int]  # shelter of every delivery node (-1 for pickups)
    delivery_of: dict[tuple[int, int], int]  # (position k in requests, shelter) -> delivery node
    cars: list[int]

    @property
    def n_req(self) -> int:
        return len(self.requests)

    @property
    def n_stop(self) -> int:
        return len(self.pickup_of)

    @property
    def n_car(self) -> int:
        return len(self.cars)

    @property
    def starts(self) -> np.ndarray:
        return np.arange(self.n_stop, self.n_stop + self.n_car)

    @property
    def ends(self) -> np.ndarray:
        return np.arange(self.n_stop + self.n_car, self.n_stop + 2 * self.n_car)


def _nodes(inst: Instance, shelter: np.ndarray, cars: list[int], requests: list[int]) -> _Nodes:
    """Delivery alternatives: each shelter the request may use (access, reachable, ride time)."""
    T = inst.T
    n_req = len(requests)
    pickup_of = list(requests)
    shelter_of = [-1] * n_req
    delivery_of: dict[tuple[int, int], int] = {}
    for k, r in enumerate(requests):
        for s in range(inst.n_shelters):
            direct = T[inst.home[r], inst.shelter_loc[s]]
            ok = np.isfinite(direct) and direct <= inst.max_ride[r, s] + 1e-9
            ok &= bool(inst.shelter_takes[r, s])  # access, pets, medical support
            # A split household's parts must meet at one shelter: they keep theirs.
            ok &= inst.requests[r].parts == 1
            if ok or s == shelter[r]:
                delivery_of[(k, s)] = len(pickup_of)
                pickup_of.append(r)
                shelter_of.append(s)
    return _Nodes(requests, pickup_of, shelter_of, delivery_of, cars)


def model_size(inst: Instance, shelter: np.ndarray, requests: list[int]) -> int:
    """Stop nodes of a group model over ``requests`` (pickups and delivery alternatives): what a call is charged."""
    return _nodes(inst, shelter, [], requests).n_stop


def _transit(inst: Instance, nodes: _Nodes) -> tuple[np.ndarray, np.ndarray]:
    """The model's integer seconds between nodes: ``(travel, transit)``, transit with the service at the node left."""
    n_req, n_stop, cars = nodes.n_req, nodes.n_stop, nodes.cars
    starts, ends = nodes.starts, nodes.ends
    loc = np.concatenate([
        inst.home[nodes.requests],
        inst.shelter_loc[np.asarray(nodes.shelter_of[n_req:], dtype=np.int64)],
        inst.car_start[cars],
        inst.car_start[cars],  # end nodes: a free end; the transit to them is only the last service
    ]).astype(np.int64)
    # Rounded down, so that the float plan we start from is feasible in the integer model; the
    # caller re-checks the result in float minutes and rejects what rounding let through.
    travel = np.floor(inst.T[np.ix_(loc, loc)] * SCALE)
    travel[~np.isfinite(travel)] = UNREACHABLE
    transit = travel.copy()
    transit[:n_req, :] += inst.pickup_minutes * SCALE
    # A delivery pays the drop-off service only when the car moves on to another place.
    drop = float(np.rint(inst.dropoff_minutes * SCALE))
    deliveries = np.arange(n_req, n_stop)
    transit[n_req:n_stop, :] += np.where(loc[None, :] != loc[n_req:n_stop, None], drop, 0.0)
    transit[np.ix_(deliveries, ends)] = drop
    transit[:n_req, ends] = UNREACHABLE  # a route never ends with riders on board
    transit[np.ix_(starts, ends)] = 0
    return travel, transit.astype(np.int64)


def _register_times(inst: Instance, nodes: _Nodes, routing: pywrapcp.RoutingModel,
                    previous_car: dict[int, int] | None, travel: np.ndarray, transit: np.ndarray) -> int:
    """Register the time transit and the arc costs (driving, plus moves in a re-plan); the time callback."""
    n_req, cars, ends = nodes.n_req, nodes.cars, nodes.ends
    drive = travel.copy()
    drive[:, ends] = 0
    time_cb = routing.RegisterTransitMatrix(transit.tolist())
    requests = np.asarray(nodes.requests, dtype=np.int64)
    speaks: npt.NDArray[np.bool_] = inst.speaks[np.ix_(np.asarray(cars, dtype=np.int64), requests)]  # (v, k)
    # A household whose language one car of the group speaks costs the others a little driving to take.
    unmatched: npt.NDArray[np.bool_] = np.asarray(speaks.any(axis=0))[None, :] & ~speaks
    if previous_car or unmatched.any():
        for v, car in enumerate(cars):
            moved = [k for k, r in enumerate(nodes.requests) if previous_car and previous_car.get(r, car) != car]
            cost = drive.copy()
            cost[:, moved] += MOVE_PENALTY
            cost[:, :n_req] += np.where(unmatched[v], LANGUAGE_COST, 0)[None, :]
            routing.SetArcCostEvaluatorOfVehicle(routing.RegisterTransitMatrix(cost.astype(np.int64).tolist()), v)
    else:
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(drive.astype(np.int64).tolist()))
    return int(time_cb)


def _start_second(inst: Instance, car: int) -> int:
    """The second a car's route starts in the model (its start cumul)."""
    return int(np.rint(inst.car_from[car] * SCALE))


def _ready_second(inst: Instance, r: int) -> int:
    """The earliest second request ``r`` may be picked up in the model."""
    return int(np.ceil(inst.ready[r] * SCALE))


@dataclass
class _Warm:
    """The given routes timed as OR-Tools times them: integer transits from the start cumul, waiting for ready times.

    The model's seconds are not the float minutes rounded once: each leg is rounded down, the start to the nearest
    second and a ready time up, so a route can end or pick up a second or two after its float minute, rounded down,
    would say. A hard bound stated in float minutes can then make the very routes we start from infeasible (and
    OR-Tools returns nothing at once); the bounds are stated so that these times always fit.
    """

    pickup: dict[int, int]  # pickup node -> its latest second over the routes given
    ride: dict[int, int]  # delivery node -> seconds from its pickup to it, the longest over the routes given
    end: list[int]  # per car: the second its warm-start route ends (its start when empty)


def _warm(inst: Instance, nodes: _Nodes, transit: np.ndarray, routes: list[list[list[int]]]) -> _Warm:
    """Time each set of routes (node numbers per car) in the model's seconds; ``end`` is the last set's."""
    warm = _Warm({}, {}, [])
    starts, ends = nodes.starts.tolist(), nodes.ends.tolist()
    for route_set in routes:
        warm.end = []
        for v, route in enumerate(route_set):
            prev, t = starts[v], _start_second(inst, nodes.cars[v])
            picked: dict[int, int] = {}
            for node in route:
                t += int(transit[prev, node])
                if node < nodes.n_req:
                    t = max(t, _ready_second(inst, nodes.requests[node]))
                    picked[nodes.requests[node]] = t
                    warm.pickup[node] = max(warm.pickup.get(node, t), t)
                else:
                    ride = t - picked[nodes.pickup_of[node]]
                    warm.ride[node] = max(warm.ride.get(node, ride), ride)
                prev = node
            warm.end.append(t + int(transit[prev, ends[v]]))
    return warm


def _add_capacities(inst: Instance, nodes: _Nodes, routing: pywrapcp.RoutingModel) -> None:
    """Seats and wheelchair spaces: a pickup loads, its delivery alternatives unload."""
    requests, pickup_of, n_req, n_car, cars = nodes.requests, nodes.pickup_of, nodes.n_req, nodes.n_car, nodes.cars
    seat_demand = [int(inst.seated[r]) for r in requests] + [-int(inst.seated[r]) for r in pickup_of[n_req:]] \
        + [0] * 2 * n_car
    wc_demand = [int(inst.wheelchair[r]) for r in requests] + [-int(inst.wheelchair[r]) for r in pickup_of[n_req:]] \
        + [0] * 2 * n_car
    seat_cb = routing.RegisterUnaryTransitVector(seat_demand)
    wc_cb = routing.RegisterUnaryTransitVector(wc_demand)
    routing.AddDimensionWithVehicleCapacity(seat_cb, 0, [int(inst.car_seats[c]) for c in cars], True, "seats")
    routing.AddDimensionWithVehicleCapacity(wc_cb, 0, [int(inst.car_wheelchair[c]) for c in cars], True, "wc")


def _add_time_limits(inst: Instance, nodes: _Nodes, routing: pywrapcp.RoutingModel,
                     time_dim: pywrapcp.RoutingDimension, bound: float, warm: _Warm) -> None:
    """Each car starts when it comes free and its last drop-off, unloading included, ends by its limit.

    Never before its warm-start route ends in the model's seconds (see ``_Warm``): the float check of the result
    (``accept``) rejects what that second lets through.
    """
    drop = int(np.rint(inst.dropoff_minutes * SCALE))
    bound_int = int(np.floor(bound * SCALE)) + drop
    for v, car in enumerate(nodes.cars):
        time_dim.CumulVar(routing.Start(v)).SetValue(_start_second(inst, car))
        limit = min(bound_int, int(np.floor(inst.car_end[car] * SCALE)) + drop)
        time_dim.CumulVar(routing.End(v)).SetMax(max(limit, warm.end[v]))


def _add_needs(inst: Instance, nodes: _Nodes, manager: pywrapcp.RoutingIndexManager,
               routing: pywrapcp.RoutingModel, time_dim: pywrapcp.RoutingDimension,
               alternatives_of: dict[int, list[tuple[int, int]]], latest_pickup: dict[int, int]) -> None:
    """Riders who may not share go straight to their shelter in an empty car; a household with a pickup target
    is picked up no later than ``latest_pickup`` (a second of the model: see ``_latest_pickup``).

    Hard bounds, not soft costs: soft cumul costs bring OR-Tools' linear scheduling optimiser into the
    search, and with it results that changed from run to run; a hard bound keeps a seed's plan the same.
    """
    seats, wheel = routing.GetDimensionOrDie("seats"), routing.GetDimensionOrDie("wc")
    for k, r in enumerate(nodes.requests):
        p = manager.NodeToIndex(k)
        if inst.alone[r]:
            seats.CumulVar(p).SetMax(0)
            wheel.CumulVar(p).SetMax(0)
            routing.NextVar(p).SetValues([p, *(d for _, d in alternatives_of[k])])  # p: unperformed (probe)
        if r in latest_pickup:
            time_dim.CumulVar(p).SetMax(latest_pickup[r])


def _add_requests(inst: Instance, nodes: _Nodes, manager: pywrapcp.RoutingIndexManager,
                  routing: pywrapcp.RoutingModel, time_dim: pywrapcp.RoutingDimension,
                  room: np.ndarray, probe: bool, pet_room: np.ndarray | None = None,
                  latest_pickup: dict[int, int] | None = None, warm_ride: dict[int, int] | None = None) -> None:
    """Pickup-and-delivery sets, ready times, allowed cars, ride limits, shelter room for people and pets."""
    solver = routing.solver()
    n_car = nodes.n_car
    by_shelter: dict[int, list[tuple[int, int]]] = {}
    pets_at: dict[int, list[tuple[int, int]]] = {}
    alternatives_of: dict[int, list[tuple[int, int]]] = {}
    for (k, s), d in nodes.delivery_of.items():
        alternatives_of.setdefault(k, []).append((s, manager.NodeToIndex(d)))
    for k, r in enumerate(nodes.requests):
        p = manager.NodeToIndex(k)
        alternatives = alternatives_of[k]
        if probe:
            routing.AddPickupAndDeliverySets(routing.AddDisjunction([p], LEAVE_OUT_PENALTY),
                                             routing.AddDisjunction([d for _, d in alternatives], LEAVE_OUT_PENALTY))
        else:
            routing.AddPickupAndDeliverySets(routing.AddDisjunction([p]),
                                             routing.AddDisjunction([d for _, d in alternatives]))
        time_dim.CumulVar(p).SetMin(int(np.ceil(inst.ready[r] * SCALE)))
        allowed = [v for v, car in enumerate(nodes.cars) if inst.fits(car, r)]
        if len(allowed) < n_car:
            routing.VehicleVar(p).SetValues([-1, *allowed])
        for s, d in alternatives:
            # Same car and pickup first come with the pickup-and-delivery sets; the ride limit does not.
            ride = float(inst.max_ride[r, s])
            if np.isfinite(ride):
                # Linear, so it propagates cheaply; an unvisited alternative's time is free and
                # can always satisfy it, so it binds only the shelter actually chosen.
                limit = int(np.floor((ride + inst.pickup_minutes) * SCALE))
                # Not below the ride the given trips take in the model's seconds (see ``_Warm``): the float
                # check of the result rejects what that lets through.
                limit = max(limit, (warm_ride or {}).get(manager.IndexToNode(d), limit))
                solver.Add(time_dim.CumulVar(d) <= time_dim.CumulVar(p) + limit)
            by_shelter.setdefault(s, []).append((int(inst.people[r]), d))
            if inst.pets[r]:
                pets_at.setdefault(s, []).append((int(inst.pets[r]), d))
    for s, items in by_shelter.items():
        if sum(people for people, _ in items) > room[s]:
            solver.Add(solver.Sum([routing.ActiveVar(d) * people for people, d in items]) <= int(room[s]))
    for s, pet_items in pets_at.items():
        pet_limit = np.inf if pet_room is None else float(pet_room[s])
        if sum(pets for pets, _ in pet_items) > pet_limit:
            solver.Add(solver.Sum([routing.ActiveVar(d) * pets for pets, d in pet_items]) <= int(max(pet_limit, 0)))
    _add_needs(inst, nodes, manager, routing, time_dim, alternatives_of, latest_pickup or {})


def _route_nodes(nodes: _Nodes, shelter: np.ndarray, trips: list[list[Trip]]) -> list[list[int]]:
    """The given trips as node numbers (pickups, then the unloads of each trip at its shelter)."""
    initial = []
    pos = {r: k for k, r in enumerate(nodes.requests)}
    for car_trips in trips:
        route: list[int] = []
        on_board: list[int] = []
        for t in car_trips:
            route.extend(pos[r] for r in t.pickups)
            on_board.extend(t.pickups)
            unload = on_board if t.unload is None else list(t.unload)
            route.extend(nodes.delivery_of[(pos[r], int(shelter[r]))] for r in unload)
            on_board = [r for r in on_board if r not in unload]
        initial.append(route)
    return initial


def _latest_pickup(inst: Instance, nodes: _Nodes, cars: list[int], trips: list[list[Trip]],
                   warm: _Warm) -> dict[int, int]:
    """Per request with a pickup target, the latest second of its pickup in the model.

    A target met stays met; a target missed gets missed by no more (``targets_key`` ranks it above clearance):
    its target, or the minute the given trips pick it up when later, rounded down to a second; and never before
    the second those trips pick it up in the model (``_Warm``). Without that, the given trips could arrive a
    second past the bound in the model and the warm start was infeasible: the group call returned nothing at
    once. ``accept`` re-checks the targets in float minutes. (The model's second alone, without the float
    minute, was tried: tighter where the rounded-down legs put it below the float minute, and on the needs
    benchmark's "no needs, targets" variant 3 targets fewer met, 109.8 against 109.1 min.)
    """
    latest = {r: max(float(inst.target[r]), minute) for c, t in zip(cars, trips, strict=True)
              for r, minute in pickup_minutes(inst, c, t) if np.isfinite(inst.target[r])}
    return {r: max(int(np.floor(latest[r] * SCALE + 1e-6)), warm.pickup[k])
            for k, r in enumerate(nodes.requests) if r in latest}


def _read_routes(nodes: _Nodes, manager: pywrapcp.RoutingIndexManager, routing: pywrapcp.RoutingModel,
                 solution: pywrapcp.Assignment) -> tuple[list[list[Trip]], dict[int, int]]:
    """Trips per car of the group and the shelter chosen for each request."""
    new_trips: list[list[Trip]] = []
    chosen: dict[int, int] = {}
    for v in range(nodes.n_car):
        route: list[int] = []
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            route.append(node)
            if node >= nodes.n_req:
                chosen[nodes.pickup_of[node]] = nodes.shelter_of[node]
            idx = solution.Value(routing.NextVar(idx))
        new_trips.append(_trips_from_route(route, nodes.pickup_of, nodes.shelter_of, nodes.n_req))
    return new_trips, chosen


def improve_group(
    inst: Instance,
    shelter: np.ndarray,
    room: np.ndarray,
    cars: list[int],
    trips: list[list[Trip]],
    *,
    bound: float,
    stop: SafetyStop,
    solutions: int,
    previous_car: dict[int, int] | None = None,
    start: list[list[Trip]] | None = None,
    pet_room: np.ndarray | None = None,
    escape: bool = False,
    pair_exchange: bool = True,
) -> GroupResult:
    """Re-route ``cars`` over the requests of their ``trips`` so that none finishes after ``bound``.

    ``shelter[r]`` is each request's current shelter (the warm start); ``room[s]`` the people shelter
    s can still take from this group. Minimises the latest finish in the group (a global span cost,
    weighted far above driving), starting from the given trips. ``previous_car`` (request to car,
    in a re-plan) makes moving a household away from the car it was promised cost as much as
    a minute of clearance, so only moves that pay for themselves happen.

    With ``start`` (the given trips cut short to finish by ``bound``) the model becomes a probe:
    requests may be left out at a high price, the search starts from ``start`` and must put the
    left-out requests back without any car passing ``bound``. It succeeds only if every request is in.
    ``escape`` searches with guided local search instead of plain descent (for a group that stalled).
    ``pair_exchange=False`` leaves out OR-Tools' exchange-pair moves (see ``_params``).
    ``stop`` is the far safety stop: on the CPU clock (a drill) no wall clock cuts the search or any of its
    moves within ``CPU_WALL_FACTOR`` times the CPU seconds left, so the result depends on the model alone, never on
    how busy the machine is; a result the stop cut says so (``cut``).
    """
    probe = start is not None
    requests = [r for car_trips in trips for t in car_trips for r in t.pickups]
    if not requests:
        return GroupResult(None)
    nodes = _nodes(inst, shelter, cars, requests)
    n_stop = nodes.n_stop
    manager = pywrapcp.RoutingIndexManager(n_stop + 2 * nodes.n_car, nodes.n_car,
                                           nodes.starts.tolist(), nodes.ends.tolist())
    routing = pywrapcp.RoutingModel(manager)
    travel, transit = _transit(inst, nodes)
    time_cb = _register_times(inst, nodes, routing, previous_car, travel, transit)
    # The given trips (whose pickups and rides bound the search's) and, last, the warm start (whose ends do).
    given = _route_nodes(nodes, shelter, trips)
    routes = given if start is None else _route_nodes(nodes, shelter, start)
    warm = _warm(inst, nodes, transit, [given, routes] if start is not None else [given])
    drop = int(np.rint(inst.dropoff_minutes * SCALE))
    horizon = max(int(np.rint(inst.deadline * SCALE)) + drop + 1, *warm.end)
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    time_dim.SetGlobalSpanCostCoefficient(0 if probe else SPAN_COST)
    _add_capacities(inst, nodes, routing)
    _add_time_limits(inst, nodes, routing, time_dim, bound, warm)
    latest = _latest_pickup(inst, nodes, cars, trips, warm)
    _add_requests(inst, nodes, manager, routing, time_dim, room, probe, pet_room, latest, warm.ride)

    initial = [[int(manager.NodeToIndex(n)) for n in route] for route in routes]
    wall = stop.wall_seconds()
    params = _params(wall, solutions, escape, pair_exchange)
    # Restoring the warm start takes about a millisecond. Once in a drill's advice solves (a 3-request group, not a
    # probe) it ran to OR-Tools' limit and then returned the routes; on a drill's CPU clock that limit is 30 times
    # the CPU seconds left: half an hour. Its own short limit ends that; the search proper gets ``params``. A restore
    # that ends empty at the limit is reported like any cut. Why it runs on is not yet understood (docs/solver.md).
    restore_wall = min(wall, RESTORE_SECONDS)
    routing.CloseModelWithParameters(_params(restore_wall, solutions, escape, pair_exchange))
    began = time.perf_counter()
    start_assignment = routing.ReadAssignmentFromRoutes(initial, True)
    if start_assignment is None:
        if time.perf_counter() - began >= 0.999 * restore_wall:
            stop.hit = True
        return GroupResult(None, nodes=n_stop, cut=stop.hit)
    cut_by_cpu = False

    def at_solution() -> None:
        nonlocal cut_by_cpu
        if probe and routing.CostVar().Value() < LEAVE_OUT_PENALTY:
            routing.solver().FinishCurrentSearch()  # a probe has done its job once nobody is left out
        elif stop.cpu and stop.reached():
            cut_by_cpu = True
            routing.solver().FinishCurrentSearch()

    routing.AddAtSolutionCallback(at_solution)
    began = time.perf_counter()
    solution = routing.SolveFromAssignmentWithParameters(start_assignment, params)
    # OR-Tools' own (wall-clock) limit ended it: only a search that ran to it, give or take a clock tick.
    cut = cut_by_cpu or time.perf_counter() - began >= 0.999 * wall
    if cut:
        stop.hit = True
    if solution is None:
        return GroupResult(None, nodes=n_stop, cut=cut)
    new_trips, chosen = _read_routes(nodes, manager, routing, solution)
    if probe and sum(1 for t in new_trips for trip in t for _ in trip.pickups) < nodes.n_req:
        return GroupResult(None, nodes=n_stop, cut=cut)
    return GroupResult(new_trips, chosen, n_stop, cut)


def _params(seconds: float, solutions: int, escape: bool = False,
            pair_exchange: bool = True) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    if not pair_exchange:
        # Swapping two pickup-and-delivery pairs between routes tries every pair against every pair and every
        # delivery alternative: on 500-1,000-household zones it was a third of a group call's CPU (a regional
        # plan at 10,000 households: zone solves 96 -> 80 s of CPU, clearance 120.49 -> 120.57 min).
        params.local_search_operators.use_exchange_pair = BOOL_FALSE
    # Plain descent ends by itself at a local optimum: no clock decides where a group stops, and
    # on these groups it matched guided local search's results in a fraction of the time. A group
    # that stalled there gets guided local search (``escape``), which penalises the features of the
    # local optimum to leave it; still bounded by a count of solutions, so it repeats exactly.
    params.local_search_metaheuristic = (routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH if escape
                                         else routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT)
    params.solution_limit = solutions
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    # The LNS moves (cheapest-insertion path and visit-type LNS are on by default) each end by themselves but are
    # also cut by a wall clock (``lns_time_limit``, 0.1 s by default): on a busy machine they were cut elsewhere
    # and the same seed and limit gave another plan, in the service as in a drill. Only the safety stop cuts them.
    params.lns_time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return params
