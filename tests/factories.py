"""Build small Problems (and one hand-checked Plan) from hand-written travel times, for tests.

The travel-time matrix has no router, like a benchmark table: plans built on it have legs without coordinates.
Matrix rows and columns are in the order drivers, then households, then shelters, each in the given order.

    problem = make_problem(
        households=[household("H1", people=2)],
        drivers=[driver("D1", seats=4)],
        shelters=["S1"],                               # a bare id gets a default record
        minutes={("D1", "H1"): 5, ("H1", "S1"): 12},   # other pairs: default_minutes
        deadline=60,
    )
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.plan import Leg, Metrics, Plan, Route, Stop, Unserved
from matcher.problem import Alert, Driver, Household, Problem, Rules, ServiceMinutes, Shelter
from matcher.travel import LocationKind, LocationRef, TravelTimes

#: Minutes between two places that ``minutes`` does not mention.
DEFAULT_MINUTES = 10.0

MinutesSpec = Mapping[tuple[str, str], float] | Sequence[Sequence[float]] | npt.NDArray[np.float64] | None


def _position(kind: str, record_id: str) -> tuple[float, float]:
    """A stable, distinct (lat, lon) per record near 50 N 8 E, so tests need not invent coordinates."""
    h = zlib.crc32(f"{kind}:{record_id}".encode())
    return 50.0 + (h % 1000) / 10000.0, 8.0 + (h // 1000 % 1000) / 10000.0


def household(record_id: str, **fields: Any) -> Household:
    """A household with one person, ready at minute 0, at a stable made-up position; ``fields`` override."""
    lat, lon = _position("household", record_id)
    return Household(**{"id": record_id, "lat": lat, "lon": lon, "people": 1, **fields})


def driver(record_id: str, **fields: Any) -> Driver:
    """A driver with 4 seats and no wheelchair space, available from minute 0; ``fields`` override."""
    lat, lon = _position("driver", record_id)
    return Driver(**{"id": record_id, "lat": lat, "lon": lon, "seats": 4, **fields})


def shelter(record_id: str, **fields: Any) -> Shelter:
    """A wheelchair-accessible shelter for 100 people; ``fields`` override."""
    lat, lon = _position("shelter", record_id)
    return Shelter(**{"id": record_id, "lat": lat, "lon": lon, "capacity": 100, **fields})


def travel_times(
    locations: Sequence[LocationRef], minutes: MinutesSpec = None, default_minutes: float = DEFAULT_MINUTES
) -> TravelTimes:
    """A router-less matrix over ``locations``.

    ``minutes`` is either a full square matrix in ``locations`` order, or a mapping ``{(id_a, id_b): minutes}``
    by record id (ids must then be unique across kinds). A pair given one way holds both ways unless the other
    way is given too; unmentioned pairs take ``default_minutes`` (``math.inf`` makes them unreachable).
    """
    n = len(locations)
    if minutes is None or isinstance(minutes, Mapping):
        matrix = np.full((n, n), float(default_minutes))
        np.fill_diagonal(matrix, 0.0)
        index = {ref.id: i for i, ref in enumerate(locations)}
        if len(index) != n:
            raise ValueError("ids are not unique across drivers, households and shelters: give a full matrix")
        given = dict(minutes or {})
        for a in {record_id for pair in given for record_id in pair} - index.keys():
            raise ValueError(f"minutes names {a!r}, which is not a driver, household or shelter of the problem")
        for (a, b), value in given.items():
            matrix[index[a], index[b]] = value
            if (b, a) not in given:
                matrix[index[b], index[a]] = value
    else:
        matrix = np.asarray(minutes, dtype=np.float64)
    return TravelTimes(tuple(locations), matrix)


def make_problem(
    *,
    households: Sequence[Household | str],
    drivers: Sequence[Driver | str],
    shelters: Sequence[Shelter | str],
    minutes: MinutesSpec = None,
    deadline: float = 120.0,
    default_minutes: float = DEFAULT_MINUTES,
    service: ServiceMinutes | None = None,
    name: str = "test",
    rules: Rules | None = None,
) -> Problem:
    """A Problem over the given records (a bare id makes a default record) and hand-written travel times.

    See ``travel_times`` for ``minutes``; the matrix order is drivers, households, shelters. ``service``
    defaults to 3 minutes per pickup and 2 per drop-off. Raises ``InputError`` like the real builder.
    """
    hs = [household(h) if isinstance(h, str) else h for h in households]
    ds = [driver(d) if isinstance(d, str) else d for d in drivers]
    ss = [shelter(s) if isinstance(s, str) else s for s in shelters]
    kinds: list[tuple[LocationKind, Sequence[Household | Driver | Shelter]]] = [
        ("driver", ds),
        ("household", hs),
        ("shelter", ss),
    ]
    locations = [LocationRef(kind, r.id) for kind, records in kinds for r in records]
    return Problem(
        name=name,
        households=tuple(hs),
        drivers=tuple(ds),
        shelters=tuple(ss),
        alert=Alert(deadline_minutes=deadline),
        travel=travel_times(locations, minutes, default_minutes),
        service=service or ServiceMinutes(),
        rules=rules or Rules(),
    )


# --- one worked example, times computed by hand (see the comments); check_plan finds it valid ---------------

EXAMPLE_MINUTES: dict[tuple[str, str], float] = {
    ("D1", "H1"): 5,
    ("H1", "H2"): 4,
    ("H2", "S1"): 10,
    ("H1", "S1"): 12,
    ("S1", "H4"): 6,
    ("D2", "H4"): 7,
}


def example_problem(**overrides: Any) -> Problem:
    """Two cars, four households (H4 of 5 people must be split, H3 is left out), two shelters; deadline 60.

    ``overrides`` replace ``make_problem`` arguments (e.g. ``drivers=[...]`` or ``deadline=44``).
    """
    args: dict[str, Any] = {
        "households": [
            household("H1", people=2, wheelchair_users=1),
            household("H2", people=2, ready_from_minute=15),
            household("H3", people=2, wheelchair_users=1),
            household("H4", people=5),
        ],
        "drivers": [
            driver("D1", seats=4, wheelchair_spaces=1),
            driver("D2", seats=2, available_from_minute=5, available_until_minute=100),
        ],
        "shelters": [
            shelter("S1", capacity=10, name="North school"),
            shelter("S2", capacity=3, wheelchair_accessible=False),
        ],
        "minutes": EXAMPLE_MINUTES,
        "deadline": 60.0,
        "name": "example",
    }
    args.update(overrides)
    return make_problem(**args)


#: Text that ``example_problem_with_personal_data`` puts in names, phones, needs and languages; outputs that
#: must not leak personal data can assert none of it appears.
PERSONAL_DATA = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Volunteer",
    "+44 ",
    "+49 ",
    "oxygen",
    "tgl",
)


def example_problem_with_personal_data() -> Problem:
    """``example_problem()`` with names, phones, needs and a language on its households and drivers."""
    example = example_problem()
    people: dict[str, dict[str, Any]] = {
        "H1": {"name": "Ada Lovelace", "phone": "+44 1111", "needs": ("oxygen",)},
        "H2": {"name": "Grace Hopper", "phone": "+1 2222", "language": "tgl"},
        "H3": {"name": "Alan Turing", "phone": "+44 3333"},
        "H4": {"name": "Katherine Johnson", "phone": "+1 4444"},
        "D1": {"name": "Volunteer One", "phone": "+49 5555"},
        "D2": {"name": "Volunteer Two", "phone": "+49 6666"},
    }
    return example_problem(
        households=[dataclasses.replace(h, **people[h.id]) for h in example.households],
        drivers=[dataclasses.replace(d, **people[d.id]) for d in example.drivers],
    )


def _pickup(
    problem: Problem,
    hid: str,
    arrive: float,
    depart: float,
    people: int,
    wheelchair_users: int = 0,
    part: int | None = None,
    parts: int | None = None,
) -> Stop:
    h = problem.household(hid)
    return Stop(
        "pickup",
        h.lat,
        h.lon,
        arrive,
        depart,
        household_id=hid,
        people=people,
        wheelchair_users=wheelchair_users,
        part=part,
        parts=parts,
    )


def _dropoff(
    problem: Problem,
    sid: str,
    arrive: float,
    depart: float,
    hids: tuple[str, ...],
    people: int,
    wheelchair_users: int = 0,
) -> Stop:
    s = problem.shelter(sid)
    return Stop(
        "dropoff",
        s.lat,
        s.lon,
        arrive,
        depart,
        shelter_id=sid,
        household_ids=hids,
        people=people,
        wheelchair_users=wheelchair_users,
    )


def example_plan(problem: Problem | None = None) -> Plan:
    """The valid plan for ``example_problem()``, worked out by hand (pickup 3 min, drop-off 2 min)."""
    p = problem or example_problem()
    d1 = Route(
        "D1",
        stops=(
            _pickup(p, "H1", 5, 8, 2, 1),  # leaves at 0, 5 min drive, ready since 0
            _pickup(p, "H2", 12, 18, 2),  # 8 + 4; waits until ready at 15, then 3 min
            _dropoff(p, "S1", 28, 30, ("H1", "H2"), 4, 1),  # 18 + 10
            _pickup(p, "H4", 36, 39, 3, part=1, parts=2),  # 30 + 6
            _dropoff(p, "S1", 45, 47, ("H4",), 3),  # 39 + 6: the last drop-off, the clearance minute
        ),
        legs=(Leg(5, None), Leg(4, None), Leg(10, None), Leg(6, None), Leg(6, None)),
    )
    d2 = Route(
        "D2",
        stops=(
            _pickup(p, "H4", 12, 15, 2, part=2, parts=2),  # available from 5, 7 min drive
            _dropoff(p, "S1", 21, 23, ("H4",), 2),  # 15 + 6
        ),
        legs=(Leg(7, None), Leg(6, None)),
    )
    return Plan(
        scenario="example",
        metrics=Metrics(
            clearance_minute=45.0, households_served=3, households_unserved=1, people_served=9, drive_minutes=44.0
        ),
        routes=(d1, d2),
        unserved=(Unserved("H3", "no car left with a wheelchair space before the deadline", "not_enough_cars"),),
    )
