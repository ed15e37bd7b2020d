"""The OR-Tools routing model of a group of cars and their requests; the only module importing OR-Tools.

Each request is a pickup node at the home and one delivery node per shelter it may go to, of which
exactly one is visited: OR-Tools chooses the shelter, within the room the group has at each shelter.
Drop-off service is charged once per shelter visit (not per household unloaded), which is how a car
unloads. Times are integer seconds inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from matcher.solver.construct import Trip
from matcher.solver.instance import Instance

SCALE = 60  # seconds per minute: OR-Tools works in integers
UNREACHABLE = 10**9
SPAN_COST = 1000
#: Cost of leaving a request out of a probe: above any possible driving cost.
LEAVE_OUT_PENALTY = 10**8
#: Arc-cost units of moving one household to another car in a re-plan: one minute of clearance.
MOVE_PENALTY = SPAN_COST * SCALE


@dataclass(frozen=True)
class GroupResult:
    """New trips per car of the group (same order as given) and each request's shelter; None if nothing found."""

    trips: list[list[Trip]] | None
    shelter: dict[int, int] | None = None
    #: Size of the model solved (pickup and delivery nodes): the work unit of the round budget.
    nodes: int = 0


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
    return trips


def improve_group(
    inst: Instance,
    shelter: np.ndarray,
    room: np.ndarray,
    cars: list[int],
    trips: list[list[Trip]],
    *,
    bound: float,
    seconds: float,
    solutions: int,
    previous_car: dict[int, int] | None = None,
    start: list[list[Trip]] | None = None,
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
    """
    probe = start is not None
    requests = [r for car_trips in trips for t in car_trips for r in t.pickups]
    n_req = len(requests)
    n_car = len(cars)
    if n_req == 0:
        return GroupResult(None)
    T = inst.T
    # Delivery alternatives: each shelter the request may use (access, reachable, ride time).
    pickup_of = list(requests)
    shelter_of = [-1] * n_req
    delivery_of: dict[tuple[int, int], int] = {}
    for k, r in enumerate(requests):
        for s in range(inst.n_shelters):
            direct = T[inst.home[r], inst.shelter_loc[s]]
            ok = np.isfinite(direct) and direct <= inst.max_ride[r, s] + 1e-9
            ok &= not (inst.wheelchair[r] and not inst.shelter_accessible[s])
            # A split household's parts must meet at one shelter: they keep theirs.
            ok &= inst.requests[r].parts == 1
            if ok or s == shelter[r]:
                delivery_of[(k, s)] = len(pickup_of)
                pickup_of.append(r)
                shelter_of.append(s)
    n_stop = len(pickup_of)
    loc = np.concatenate([
        inst.home[requests],
        inst.shelter_loc[np.asarray(shelter_of[n_req:], dtype=np.int64)],
        inst.car_start[cars],
        inst.car_start[cars],  # end nodes: a free end; the transit to them is only the last service
    ]).astype(np.int64)
    n_nodes = n_stop + 2 * n_car
    starts = np.arange(n_stop, n_stop + n_car)
    ends = np.arange(n_stop + n_car, n_nodes)
    manager = pywrapcp.RoutingIndexManager(n_nodes, n_car, starts.tolist(), ends.tolist())
    routing = pywrapcp.RoutingModel(manager)

    # Rounded down, so that the float plan we start from is feasible in the integer model; the
    # caller re-checks the result in float minutes and rejects what rounding let through.
    travel = np.floor(T[np.ix_(loc, loc)] * SCALE)
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
    drive = travel.copy()
    drive[:, ends] = 0
    time_cb = routing.RegisterTransitMatrix(transit.astype(np.int64).tolist())
    if previous_car:
        for v, car in enumerate(cars):
            moved = [k for k, r in enumerate(requests) if previous_car.get(r, car) != car]
            cost = drive.copy()
            cost[:, moved] += MOVE_PENALTY
            routing.SetArcCostEvaluatorOfVehicle(routing.RegisterTransitMatrix(cost.astype(np.int64).tolist()), v)
    else:
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(drive.astype(np.int64).tolist()))

    horizon = int(np.rint(inst.deadline * SCALE)) + int(drop) + 1
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    time_dim.SetGlobalSpanCostCoefficient(0 if probe else SPAN_COST)

    seated = [int(inst.seated[r]) for r in requests]
    wheel = [int(inst.wheelchair[r]) for r in requests]
    seat_demand = seated + [-int(inst.seated[r]) for r in pickup_of[n_req:]] + [0] * 2 * n_car
    wc_demand = wheel + [-int(inst.wheelchair[r]) for r in pickup_of[n_req:]] + [0] * 2 * n_car
    seat_cb = routing.RegisterUnaryTransitVector(seat_demand)
    wc_cb = routing.RegisterUnaryTransitVector(wc_demand)
    routing.AddDimensionWithVehicleCapacity(seat_cb, 0, [int(inst.car_seats[c]) for c in cars], True, "seats")
    routing.AddDimensionWithVehicleCapacity(wc_cb, 0, [int(inst.car_wheelchair[c]) for c in cars], True, "wc")

    solver = routing.solver()
    bound_int = int(np.floor(bound * SCALE)) + int(drop)
    for v, car in enumerate(cars):
        time_dim.CumulVar(routing.Start(v)).SetValue(int(np.rint(inst.car_from[car] * SCALE)))
        limit = min(bound_int, int(np.floor(inst.car_end[car] * SCALE)) + int(drop))
        time_dim.CumulVar(routing.End(v)).SetMax(limit)
    by_shelter: dict[int, list[tuple[int, int]]] = {}
    for k, r in enumerate(requests):
        p = manager.NodeToIndex(k)
        alternatives = [(s, manager.NodeToIndex(d)) for (kk, s), d in delivery_of.items() if kk == k]
        if probe:
            routing.AddPickupAndDeliverySets(routing.AddDisjunction([p], LEAVE_OUT_PENALTY),
                                             routing.AddDisjunction([d for _, d in alternatives], LEAVE_OUT_PENALTY))
        else:
            routing.AddPickupAndDeliverySets(routing.AddDisjunction([p]),
                                             routing.AddDisjunction([d for _, d in alternatives]))
        time_dim.CumulVar(p).SetMin(int(np.ceil(inst.ready[r] * SCALE)))
        allowed = [v for v, car in enumerate(cars) if inst.fits(car, r)]
        if len(allowed) < n_car:
            routing.VehicleVar(p).SetValues([-1, *allowed])
        for s, d in alternatives:
            # Same car and pickup first come with the pickup-and-delivery sets; the ride limit does not.
            ride = float(inst.max_ride[r, s])
            if np.isfinite(ride):
                # Linear, so it propagates cheaply; an unvisited alternative's time is free and
                # can always satisfy it, so it binds only the shelter actually chosen.
                limit = int(np.floor((ride + inst.pickup_minutes) * SCALE))
                solver.Add(time_dim.CumulVar(d) <= time_dim.CumulVar(p) + limit)
            by_shelter.setdefault(s, []).append((int(inst.seated[r] + inst.wheelchair[r]), d))
    for s, items in by_shelter.items():
        if sum(people for people, _ in items) > room[s]:
            solver.Add(solver.Sum([routing.ActiveVar(d) * people for people, d in items]) <= int(room[s]))

    initial = []
    pos = {r: k for k, r in enumerate(requests)}
    for car_trips in (start if start is not None else trips):
        route: list[int] = []
        on_board: list[int] = []
        for t in car_trips:
            route.extend(manager.NodeToIndex(pos[r]) for r in t.pickups)
            on_board.extend(t.pickups)
            unload = on_board if t.unload is None else list(t.unload)
            route.extend(manager.NodeToIndex(delivery_of[(pos[r], int(shelter[r]))]) for r in unload)
            on_board = [r for r in on_board if r not in unload]
        initial.append(route)
    params = _params(seconds, solutions)
    routing.CloseModelWithParameters(params)
    start_assignment = routing.ReadAssignmentFromRoutes(initial, True)
    if start_assignment is None:
        return GroupResult(None, nodes=n_stop)
    if probe:
        # A probe has done its job at the first solution that leaves nobody out.
        def stop_when_complete() -> None:
            if routing.CostVar().Value() < LEAVE_OUT_PENALTY:
                solver.FinishCurrentSearch()

        routing.AddAtSolutionCallback(stop_when_complete)
    solution = routing.SolveFromAssignmentWithParameters(start_assignment, params)
    if solution is None:
        return GroupResult(None, nodes=n_stop)
    new_trips: list[list[Trip]] = []
    chosen: dict[int, int] = {}
    for v in range(n_car):
        nodes: list[int] = []
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            nodes.append(node)
            if node >= n_req:
                chosen[pickup_of[node]] = shelter_of[node]
            idx = solution.Value(routing.NextVar(idx))
        new_trips.append(_trips_from_route(nodes, pickup_of, shelter_of, n_req))
    if probe and sum(1 for t in new_trips for trip in t for _ in trip.pickups) < n_req:
        return GroupResult(None, nodes=n_stop)
    return GroupResult(new_trips, chosen, n_stop)


def _params(seconds: float, solutions: int) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    # Plain descent ends by itself at a local optimum: no clock decides where a group stops, and
    # on these groups it matched guided local search's results in a fraction of the time.
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    params.solution_limit = solutions
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return params
