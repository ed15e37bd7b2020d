"""The OR-Tools routing model of a group of cars and their requests; the only module importing OR-Tools.

Each request is a pickup node at the home and a delivery node at its shelter. Drop-off service is
charged once per shelter visit (not per household unloaded), which is how a car unloads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from matcher.solver.construct import Trip
from matcher.solver.instance import Instance

SCALE = 60  # integer seconds: OR-Tools works in integers


@dataclass(frozen=True)
class GroupResult:
    """New trips per car of the group (same order as given), or None when nothing better was found."""

    trips: list[list[Trip]] | None
    finish: list[float] | None


def _trips_from_route(nodes: list[int], requests: list[int], shelter: np.ndarray) -> list[Trip]:
    """Cut a pickup/delivery node sequence into trips: a run of pickups, then the unloads that follow.

    Unloads at a second shelter in a row become a trip with no pickups that unloads only its riders.
    """
    n_req = len(requests)
    trips: list[Trip] = []
    pickups: list[int] = []
    drops: list[int] = []

    def flush() -> None:
        first = True
        for s in dict.fromkeys(int(shelter[r]) for r in drops):
            unload = tuple(r for r in drops if shelter[r] == s)
            trips.append(Trip(tuple(pickups) if first else (), s, unload))
            first = False

    for node in nodes:
        if node < n_req:
            if drops:
                flush()
                pickups, drops = [], []
            pickups.append(requests[node])
        else:
            drops.append(requests[node - n_req])
    if pickups or drops:
        flush()
    return trips


def improve_group(
    inst: Instance,
    shelter: np.ndarray,
    cars: list[int],
    trips: list[list[Trip]],
    *,
    bound: float,
    seconds: float,
    solutions: int,
) -> GroupResult:
    """Re-route ``cars`` over the requests of their ``trips`` so that none finishes after ``bound``.

    Minimises the latest finish among the group (a global span cost, weighted far above driving),
    starting from the given trips. Returns None trips when OR-Tools finds nothing feasible.
    """
    requests = [r for car_trips in trips for t in car_trips for r in t.pickups]
    n_req = len(requests)
    n_car = len(cars)
    if n_req == 0:
        return GroupResult(None, None)
    T = inst.T
    loc = np.concatenate([
        inst.home[requests],
        inst.shelter_loc[shelter[requests]],
        inst.car_start[cars],
        inst.car_start[cars],  # end nodes: free end, the transit to them is only the last service
    ])
    n_nodes = 2 * n_req + 2 * n_car
    starts = list(range(2 * n_req, 2 * n_req + n_car))
    ends = list(range(2 * n_req + n_car, n_nodes))
    manager = pywrapcp.RoutingIndexManager(n_nodes, n_car, starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    # Rounded down, so that the float plan we start from is feasible in the integer model; the
    # caller re-checks the result in float minutes and rejects what rounding let through.
    travel = np.floor(T[np.ix_(loc, loc)] * SCALE)
    travel[~np.isfinite(travel)] = 10**9
    service = np.zeros(n_nodes)
    service[:n_req] = inst.pickup_minutes * SCALE
    transit = travel.copy()
    transit[:n_req, :] += service[:n_req, None]
    # A delivery pays the drop-off service only when the car moves on to another place.
    drop = np.rint(inst.dropoff_minutes * SCALE)
    for d in range(n_req, 2 * n_req):
        transit[d, :] += np.where(loc != loc[d], drop, 0)
        transit[d, ends] = drop
    transit[:, ends] = np.where(np.arange(n_nodes)[:, None] >= n_req, transit[:, ends], 10**9)
    transit[np.ix_(starts, ends)] = 0
    for i in range(2 * n_req, n_nodes):
        transit[i, i] = 0
    transit_int = transit.astype(np.int64)
    time_cb = routing.RegisterTransitMatrix(transit_int.tolist())
    drive = travel.copy()
    drive[:, ends] = 0
    drive_cb = routing.RegisterTransitMatrix(drive.astype(np.int64).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(drive_cb)

    horizon = int(np.rint(inst.deadline * SCALE)) + int(drop) + 1
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    time_dim.SetGlobalSpanCostCoefficient(1000)

    seat_demand = [int(inst.seated[r]) for r in requests] + [-int(inst.seated[r]) for r in requests] + [0] * 2 * n_car
    wc_demand = [int(inst.wheelchair[r]) for r in requests] + [-int(inst.wheelchair[r]) for r in requests] \
        + [0] * 2 * n_car
    seat_cb = routing.RegisterUnaryTransitVector(seat_demand)
    wc_cb = routing.RegisterUnaryTransitVector(wc_demand)
    routing.AddDimensionWithVehicleCapacity(seat_cb, 0, [int(inst.car_seats[c]) for c in cars], True, "seats")
    routing.AddDimensionWithVehicleCapacity(wc_cb, 0, [int(inst.car_wheelchair[c]) for c in cars], True, "wc")

    solver = routing.solver()
    bound_int = int(np.floor(bound * SCALE)) + int(drop)
    for v, car in enumerate(cars):
        start_idx = routing.Start(v)
        end_idx = routing.End(v)
        time_dim.CumulVar(start_idx).SetValue(int(np.rint(inst.car_from[car] * SCALE)))
        limit = min(bound_int, int(np.floor(inst.car_end[car] * SCALE)) + int(drop))
        time_dim.CumulVar(end_idx).SetMax(limit)
    for k, r in enumerate(requests):
        p = manager.NodeToIndex(k)
        d = manager.NodeToIndex(n_req + k)
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(time_dim.CumulVar(p) <= time_dim.CumulVar(d))
        time_dim.CumulVar(p).SetMin(int(np.ceil(inst.ready[r] * SCALE)))
        ride = float(inst.max_ride[r, shelter[r]])
        if np.isfinite(ride):
            solver.Add(time_dim.CumulVar(d) - time_dim.CumulVar(p)
                       <= int(np.floor((ride + inst.pickup_minutes) * SCALE)))
        allowed = [v for v, car in enumerate(cars) if inst.fits(car, r)]
        if len(allowed) < n_car:
            routing.VehicleVar(p).SetValues([-1, *allowed])

    initial = []
    pos = {r: k for k, r in enumerate(requests)}
    for car_trips in trips:
        route: list[int] = []
        for t in car_trips:
            route.extend(manager.NodeToIndex(pos[r]) for r in t.pickups)
            route.extend(manager.NodeToIndex(n_req + pos[r]) for r in t.unloads)
        initial.append(route)
    routing.CloseModelWithParameters(_params(seconds, solutions))
    start_assignment = routing.ReadAssignmentFromRoutes(initial, True)
    if start_assignment is None:
        return GroupResult(None, None)
    solution = routing.SolveFromAssignmentWithParameters(start_assignment, _params(seconds, solutions))
    if solution is None:
        return GroupResult(None, None)
    new_trips: list[list[Trip]] = []
    for v in range(n_car):
        idx = routing.Start(v)
        nodes: list[int] = []
        idx = solution.Value(routing.NextVar(idx))
        while not routing.IsEnd(idx):
            nodes.append(manager.IndexToNode(idx))
            idx = solution.Value(routing.NextVar(idx))
        new_trips.append(_trips_from_route(nodes, requests, shelter))
    return GroupResult(new_trips, None)


def _params(seconds: float, solutions: int) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.solution_limit = solutions
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return params
