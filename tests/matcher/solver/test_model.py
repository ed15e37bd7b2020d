"""The OR-Tools group model (``model.improve_group``): its hard bounds always admit the trips it starts from.

The model counts integer seconds leg by leg (each drive rounded down, a car's start to the nearest second, a ready
time up), so a route can reach a stop a second after its float minute rounded down. Bounds written as float minutes
rounded down made such warm starts infeasible and the group call returned nothing at once.
"""

from __future__ import annotations

import numpy as np
import pytest

from matcher.check import assert_plan_valid
from matcher.problem import Problem
from matcher.solver import SolveParams, solve
from matcher.solver.construct import Trip, drive_car, pickup_minutes
from matcher.solver.instance import Instance, build_instance
from matcher.solver.model import _trips_from_route, improve_group
from matcher.solver.safety import SafetyStop
from matcher.solver.triage import triage
from tests.factories import driver, household, make_problem


def _late_start() -> Problem:
    """The car comes free at 10.009 min (600.54 s: the model starts it at 601) and is 25 minutes from a priority-1
    household, whose 30-minute target it misses: picked up at 35.009 min, 2100.54 s, bounded at 2100 before."""
    return make_problem(households=[household("H1", priority=1)],
                        drivers=[driver("D1", available_from_minute=10.009)], shelters=["S1"],
                        minutes={("D1", "H1"): 25.0, ("H1", "S1"): 5.0, ("D1", "S1"): 20.0}, deadline=200)


def _late_ready() -> Problem:
    """H2 (priority 3) is ready at 35.005 min (2100.3 s: the model waits until 2101), the car takes it and then the
    priority-1 household H1 a minute on, past its target: H1's pickup is 0.7 s later in the model than its float
    minute, whose rounded-down second was the bound before."""
    return make_problem(households=[household("H1", priority=1), household("H2", priority=3, ready_from_minute=35.005)],
                        drivers=[driver("D1")], shelters=["S1"],
                        minutes={("D1", "H2"): 5.0, ("D1", "H1"): 6.0, ("H2", "H1"): 1.0, ("H1", "S1"): 5.0,
                                 ("H2", "S1"): 5.0, ("D1", "S1"): 10.0}, deadline=200)


def _late_end() -> Problem:
    """No target: the car comes free at 10.009 min and its one trip ends at the group's bound (its own finish), which
    the model reaches a rounding second after that finish rounded down."""
    return make_problem(households=[household("H1", priority=3)],
                        drivers=[driver("D1", available_from_minute=10.009)], shelters=["S1"],
                        minutes={("D1", "H1"): 25.0, ("H1", "S1"): 5.0, ("D1", "S1"): 20.0}, deadline=200)


def _long_ride() -> Problem:
    """The car comes free at minute 40 and picks up the priority-1 household H1 at 41, past its target (so the
    model may not board it later either), then rides through H2, ready at 45.005 (the model waits until 2701 s):
    H1's ride is exactly its 9.005-minute limit in float minutes, and 0.7 s longer in the model's seconds than the
    limit rounded down (720 s from the start of boarding, 3 minutes of it, to the shelter)."""
    return make_problem(households=[household("H1", priority=1, max_ride_minutes=9.005),
                                    household("H2", priority=3, ready_from_minute=45.005)],
                        drivers=[driver("D1", available_from_minute=40.0)], shelters=["S1"],
                        minutes={("D1", "H1"): 1.0, ("D1", "H2"): 2.0, ("H1", "H2"): 1.0, ("H1", "S1"): 5.0,
                                 ("H2", "S1"): 5.0, ("D1", "S1"): 10.0}, deadline=200)


def _trips(inst: Instance, order: tuple[str, ...]) -> list[list[Trip]]:
    ids = [r.household_id for r in inst.requests]
    return [[Trip(tuple(ids.index(h) for h in order), 0)]]


@pytest.mark.parametrize(("problem", "order"), [(_late_start, ("H1",)), (_late_ready, ("H2", "H1")),
                                                (_late_end, ("H1",)), (_long_ride, ("H1", "H2"))])
def test_the_group_model_accepts_its_warm_start(problem: object, order: tuple[str, ...]) -> None:
    p = problem()  # type: ignore[operator]
    inst = build_instance(p)
    shelter = triage(inst).shelter
    trips = _trips(inst, order)
    finish, ok = drive_car(inst, 0, trips[0])
    assert ok
    result = improve_group(inst, shelter, inst.shelter_capacity.copy(), [0], trips, bound=finish,
                           stop=SafetyStop.start(60.0, cpu=True), solutions=10)
    assert result.trips is not None and not result.cut
    # The model may let a car wait at a door before boarding, which the float schedule does not (``_late_ready``
    # comes back with H1 first, past its ride limit there): ``improve.accept`` re-checks every result in float
    # minutes. What passes that check is no worse than the start: no later finish, no target missed by more.
    new_finish, new_ok = drive_car(inst, 0, result.trips[0])
    if new_ok:
        assert new_finish <= finish + 1e-9
        before = dict(pickup_minutes(inst, 0, trips[0]))
        for r, minute in pickup_minutes(inst, 0, result.trips[0]):
            assert not np.isfinite(inst.target[r]) or minute <= max(before[r], float(inst.target[r])) + 1e-9
    plan = solve(p, SolveParams(time_limit_seconds=0.5))
    assert_plan_valid(p, plan)
    assert len(plan.unserved) == 0


def test_trips_that_unload_their_own_pickups_come_back_plain() -> None:
    """Written with explicit unloads, every car an OR-Tools round touched was closed to ruin and recreate
    (``ruin._simple``); a real carry-over keeps them."""
    pickup_of, shelter_of = [0, 1, 2, 0, 1, 2], [-1, -1, -1, 0, 0, 1]  # pickup nodes 0-2, then their deliveries
    assert _trips_from_route([0, 1, 3, 4, 2, 5], pickup_of, shelter_of, 3) == [Trip((0, 1), 0), Trip((2,), 1)]
    carried = [-1, -1, -1, 0, 1, 1]  # request 1 is unloaded at the second shelter
    assert _trips_from_route([0, 1, 3, 4, 2, 5], pickup_of, carried, 3) == [
        Trip((0, 1), 0, (0,)), Trip((), 1, (1,)), Trip((2,), 1, (2,))]
