"""Re-verify any plan against its problem, recomputing everything from the problem (like VROOM's check mode)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from matcher.errors import EvacError
from matcher.needs import Need
from matcher.plan import MeetingPoint, Plan, Route, Stop
from matcher.problem import Driver, Household, Problem, Shelter
from matcher.roads.graph import walk_meters

#: Minutes of slack for times: plan files round times to 0.01 min, and floats drift.
TOLERANCE_MINUTES = 0.05
#: Degrees of slack for stop positions (about 0.1 m), for float noise only.
TOLERANCE_DEGREES = 1e-6
#: Meters of slack for walks to a meeting point (plan files round them to 0.1 m).
WALK_TOLERANCE_METERS = 0.5

#: Every violation code ``check_plan`` can report, with what it means.
CODES: dict[str, str] = {
    "unknown_driver": "a route's driver is not in the problem",
    "duplicate_driver": "a driver has more than one route",
    "legs_mismatch": "a route does not have exactly one leg per stop",
    "bad_stop": "a stop is malformed (type, missing id, impossible people counts)",
    "unknown_household": "a household id is not in the problem",
    "unknown_shelter": "a shelter id is not in the problem",
    "wrong_position": "a stop's lat/lon is not its household's or shelter's registered position",
    "leg_minutes": "a leg's minutes differ from the travel time between its two places",
    "wrong_times": "an arrival or departure does not follow from the previous departure, leg and service time",
    "past_deadline": "a drop-off arrives after the alert's deadline",
    "past_driver_end": "a drop-off's unloading ends after the driver's availability ends",
    "over_seats": "more seated people on board than the car has seats",
    "over_wheelchair_spaces": "more wheelchair users on board than the car has wheelchair spaces",
    "not_on_board": "a drop-off unloads a household that is not on board that car",
    "dropoff_load_mismatch": "a drop-off's people/wheelchair_users differ from what it unloads",
    "left_on_board": "a household is still on board at the end of a route",
    "ride_too_long": "a household part is on board longer than its maximum ride",
    "shelter_not_accessible": "wheelchair users are taken to a shelter that is not wheelchair accessible",
    "shelter_over_capacity": "more people are taken to a shelter than it holds",
    "split_shelters": "the parts of a split household go to different shelters",
    "duplicate_pickup": "the same household part is picked up more than once",
    "bad_parts": "a split household's parts are not numbered 1..parts consistently",
    "incomplete_household": "the parts picked up do not add up to the household's people or wheelchair users",
    "household_missing": "a household is neither served nor listed as unserved",
    "household_both": "a household is served and also listed as unserved",
    "duplicate_unserved": "a household is listed as unserved more than once",
    "empty_reason": "an unserved household has no reason",
    "wrong_metrics": "a plan metric does not match the routes",
    "missing_geometry": "a leg has no road coordinates although a road graph is given",
    "off_road": "a leg's coordinates do not follow usable roads",
    "legs_disconnected": "a leg does not start where the previous leg ended",
    "car_takes_no_pets": "pets ride in a car whose driver does not take pets",
    "shelter_takes_no_pets": "pets are taken to a shelter that does not allow pets",
    "shelter_over_pet_capacity": "more pets are taken to a shelter than its pet capacity",
    "wrong_pets": "a household's pickups do not carry its pets",
    "no_medical_support": "an oxygen, power-dependent or dialysis user is taken to a shelter without medical support",
    "shared_ride": "a household that cannot share rides with another household on board",
    "stretcher_routed": "a household that needs a stretcher is routed in a volunteer car",
    "bad_meeting_point": "a pickup's meeting point is not the household's, or is beyond its walking limit",
}


class RoadGraphLike(Protocol):
    """What the checker needs of a road graph: a message when a path leaves the usable roads, else ``None``."""

    def follows_roads(self, coordinates: Any, closed_mask: Any = None) -> str | None: ...


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable ``code`` (see ``CODES``), who it concerns, and a message for people."""

    code: str
    message: str
    driver_id: str | None = None
    household_id: str | None = None
    shelter_id: str | None = None

    def __str__(self) -> str:
        named = (("driver", self.driver_id), ("household", self.household_id), ("shelter", self.shelter_id))
        who = ", ".join(f"{kind} {value}" for kind, value in named if value is not None)
        return f"[{self.code}] {who}: {self.message}" if who else f"[{self.code}] {self.message}"


class PlanInvalid(EvacError):
    """A plan breaks the problem's rules; ``violations`` lists every broken rule, not just the first.

    Exit code 4 lets a script tell "the plan is wrong" from bad input (2) or a solver failure (3).
    """

    exit_code = 4

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = tuple(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"plan has {len(self.violations)} violation(s):\n{lines}")


@dataclass
class _Part:
    """A household part on board a car, remembered from its pickup."""

    household_id: str
    people: int
    wheelchair_users: int
    depart_minute: float
    pets: int = 0


def _off(a: float, b: float, tolerance: float = TOLERANCE_MINUTES) -> bool:
    """True when two figures differ by more than the tolerance (or either is not finite)."""
    return not abs(a - b) <= tolerance


class _Checker:
    """Collects violations; one pass over the routes, then the plan-wide rules."""

    def __init__(self, problem: Problem, plan: Plan, road_graph: RoadGraphLike | None, closed_mask: Any) -> None:
        self.problem = problem
        self.plan = plan
        self.road_graph = road_graph
        self.closed_mask = closed_mask
        self.violations: list[Violation] = []
        self.households = {h.id: h for h in problem.households}
        self.drivers = {d.id: d for d in problem.drivers}
        self.shelters = {s.id: s for s in problem.shelters}
        #: Pickup stops of known households across all routes, for the accounting rules.
        self.pickups: dict[str, list[Stop]] = defaultdict(list)
        self.shelters_of: dict[str, set[str]] = defaultdict(set)
        self.delivered: Counter[str] = Counter()
        self.pets_delivered: Counter[str] = Counter()

    def add(self, code: str, message: str, **who: str | None) -> None:
        self.violations.append(Violation(code, message, **who))

    def run(self) -> list[Violation]:
        seen: set[str] = set()
        self._faulty = self._off_road_legs()
        for route in self.plan.routes:
            driver = self.drivers.get(route.driver_id)
            if driver is None:
                self.add("unknown_driver", "driver is not in the problem", driver_id=route.driver_id)
            elif route.driver_id in seen:
                self.add("duplicate_driver", "driver has more than one route", driver_id=route.driver_id)
            seen.add(route.driver_id)
            self._check_stops(route)
            if len(route.legs) != len(route.stops):
                self.add(
                    "legs_mismatch", f"{len(route.legs)} legs for {len(route.stops)} stops", driver_id=route.driver_id
                )
            else:
                self._check_timing(route, driver)
                if self.road_graph is not None:
                    self._check_geometry(route)
            self._check_time_limits(route, driver)
            self._check_load(route, driver)
        self._check_shelters()
        self._check_accounting()
        self._check_metrics()
        return self.violations

    # --- per route -------------------------------------------------------------------------------------------

    def _check_stops(self, route: Route) -> None:
        """Stop structure, known ids, and registered positions."""
        d = route.driver_id
        for i, stop in enumerate(route.stops):
            if stop.type == "pickup":
                if not stop.household_id:
                    self.add("bad_stop", f"stop {i}: pickup without household_id", driver_id=d)
                    continue
                nobody = stop.people < 1 and stop.pets < 1
                if nobody or not 0 <= stop.wheelchair_users <= stop.people or stop.pets < 0:
                    self.add(
                        "bad_stop",
                        f"stop {i}: pickup of {stop.people} people with {stop.wheelchair_users} wheelchair users",
                        driver_id=d,
                        household_id=stop.household_id,
                    )
                place: Household | Shelter | MeetingPoint | None = self.households.get(stop.household_id)
                if place is None:
                    self.add(
                        "unknown_household",
                        f"stop {i}: pickup of an unknown household",
                        driver_id=d,
                        household_id=stop.household_id,
                    )
                    continue
            elif stop.type == "dropoff":
                if not stop.shelter_id or not stop.household_ids:
                    self.add("bad_stop", f"stop {i}: drop-off needs a shelter_id and household_ids", driver_id=d)
                    continue
                place = self.shelters.get(stop.shelter_id)
                if place is None:
                    self.add(
                        "unknown_shelter",
                        f"stop {i}: drop-off at an unknown shelter",
                        driver_id=d,
                        shelter_id=stop.shelter_id,
                    )
                    continue
            else:
                self.add("bad_stop", f"stop {i}: unknown stop type {stop.type!r}", driver_id=d)
                continue
            if stop.type == "pickup" and isinstance(place, Household):
                place = self._check_meeting_point(i, stop, place, d)
            if _off(stop.lat, place.lat, TOLERANCE_DEGREES) or _off(stop.lon, place.lon, TOLERANCE_DEGREES):
                self.add(
                    "wrong_position",
                    f"stop {i} at ({stop.lat}, {stop.lon}), registered at ({place.lat}, {place.lon})",
                    driver_id=d,
                    household_id=stop.household_id,
                    shelter_id=stop.shelter_id,
                )

    def _check_meeting_point(self, i: int, stop: Stop, household: Household, d: str) -> Household | MeetingPoint:
        """Where the pickup must be: the problem's meeting point for the household, or its home."""
        expected = self.problem.meeting_points.get(household.id)
        given = stop.meeting_point
        if expected is None and given is None:
            return household
        if expected is None or given is None or given.name != expected.name \
                or _off(given.lat, expected.lat, TOLERANCE_DEGREES) or _off(given.lon, expected.lon, TOLERANCE_DEGREES):
            self.add("bad_meeting_point", f"stop {i}: meeting point {given and given.name!r}, expected "
                     f"{expected and expected.name!r}", driver_id=d, household_id=household.id)
            return household if expected is None else expected
        limit = self.problem.walk_limit(household)
        walk = walk_meters(household.lat, household.lon, expected.lat, expected.lon)
        if walk > limit + WALK_TOLERANCE_METERS or _off(given.walk_meters, walk, WALK_TOLERANCE_METERS):
            self.add("bad_meeting_point", f"stop {i}: a walk of {walk:.0f} m (plan says {given.walk_meters:.0f}), "
                     f"limit {limit:.0f} m", driver_id=d, household_id=household.id)
        return expected

    def _place(self, stop: Stop) -> int | None:
        """Matrix index of a stop's place, or ``None`` when the stop names no known place."""
        if stop.type == "pickup" and stop.household_id in self.households:
            return self.problem.travel.index("household", stop.household_id)  # type: ignore[arg-type]
        if stop.type == "dropoff" and stop.shelter_id in self.shelters:
            return self.problem.travel.index("shelter", stop.shelter_id)  # type: ignore[arg-type]
        return None

    def _check_timing(self, route: Route, driver: Driver | None) -> None:
        """Leg minutes against the matrix; arrivals and departures against the timing formula; time limits."""
        d = route.driver_id
        travel = self.problem.travel
        prev_place = None if driver is None else travel.index("driver", driver.id)
        prev_depart = None if driver is None else driver.available_from_minute
        for i, (stop, leg) in enumerate(zip(route.stops, route.legs, strict=True)):
            place = self._place(stop)
            if prev_place is not None and place is not None:
                expected = float(travel.minutes[prev_place, place])
                if math.isnan(expected):  # a re-plan's update left it pending: the plan reads a time nobody computed
                    self.add("leg_minutes", f"leg {i}: no travel time was computed for it (left pending by the "
                             "travel-time update of a re-plan)", driver_id=d)
                elif not math.isfinite(expected):
                    self.add("leg_minutes", f"leg {i}: the stop cannot be reached from the previous place", driver_id=d)
                elif _off(leg.minutes, expected):
                    self.add(
                        "leg_minutes", f"leg {i}: {leg.minutes:.2f} min, travel time is {expected:.2f}", driver_id=d
                    )
            if prev_depart is not None and _off(stop.arrive_minute, prev_depart + leg.minutes):
                self.add(
                    "wrong_times",
                    f"stop {i}: arrives at {stop.arrive_minute:.2f}, expected "
                    f"{prev_depart + leg.minutes:.2f} (previous departure + leg)",
                    driver_id=d,
                )
            depart = self._expected_depart(stop)
            if depart is not None and _off(stop.depart_minute, depart):
                self.add(
                    "wrong_times", f"stop {i}: departs at {stop.depart_minute:.2f}, expected {depart:.2f}", driver_id=d
                )
            prev_place, prev_depart = place, stop.depart_minute

    def _expected_depart(self, stop: Stop) -> float | None:
        """Departure from a stop per the fixed rule: no waiting except for a household that is not ready yet."""
        service = self.problem.service
        if stop.type == "dropoff":
            return stop.arrive_minute + service.dropoff
        household = self.households.get(stop.household_id or "")
        if stop.type != "pickup" or household is None:
            return None
        return max(stop.arrive_minute, household.ready_from_minute) + service.pickup

    def _check_time_limits(self, route: Route, driver: Driver | None) -> None:
        """Every drop-off arrives by the deadline and, when it comes first, the end of the driver's availability."""
        deadline = self.problem.deadline
        until = None if driver is None else driver.available_until_minute
        for i, stop in enumerate(route.stops):
            if stop.type != "dropoff":
                continue
            if stop.arrive_minute > deadline + TOLERANCE_MINUTES:
                self.add(
                    "past_deadline",
                    f"stop {i}: drop-off at {stop.arrive_minute:.2f}, deadline {deadline:.2f}",
                    driver_id=route.driver_id,
                    shelter_id=stop.shelter_id,
                )
            elif until is not None and stop.arrive_minute + self.problem.service.dropoff > until + TOLERANCE_MINUTES:
                # Available until 21:00 means done by 21:00: the unloading counts (the solver agrees).
                done = stop.arrive_minute + self.problem.service.dropoff
                self.add(
                    "past_driver_end",
                    f"stop {i}: drop-off at {stop.arrive_minute:.2f} unloaded at {done:.2f}, "
                    f"driver available until {until:.2f}",
                    driver_id=route.driver_id,
                    shelter_id=stop.shelter_id,
                )

    def _check_load(self, route: Route, driver: Driver | None) -> None:
        """Seats and wheelchair spaces at every stop, who is on board, and what each drop-off delivers where."""
        d = route.driver_id
        on_board: list[_Part] = []
        for i, stop in enumerate(route.stops):
            if stop.type == "pickup" and stop.household_id:
                on_board.append(_Part(stop.household_id, stop.people, stop.wheelchair_users, stop.depart_minute,
                                      stop.pets))
                if stop.household_id in self.households:
                    self.pickups[stop.household_id].append(stop)
                self._check_boarding(i, stop, on_board, driver, d)
            elif stop.type == "dropoff" and stop.shelter_id:
                unloaded: list[_Part] = []
                for household_id in stop.household_ids:
                    parts = [p for p in on_board if p.household_id == household_id]
                    if not parts:
                        self.add(
                            "not_on_board",
                            f"stop {i}: drop-off of a household not on board",
                            driver_id=d,
                            household_id=household_id,
                        )
                    unloaded += parts
                    on_board = [p for p in on_board if p.household_id != household_id]
                people = sum(p.people for p in unloaded)
                wheelchairs = sum(p.wheelchair_users for p in unloaded)
                if (stop.people, stop.wheelchair_users) != (people, wheelchairs):
                    self.add(
                        "dropoff_load_mismatch",
                        f"stop {i}: says {stop.people} people / "
                        f"{stop.wheelchair_users} wheelchair users, unloads {people} / {wheelchairs}",
                        driver_id=d,
                        shelter_id=stop.shelter_id,
                    )
                for part in unloaded:
                    self._deliver(i, stop, part, d)
            else:
                continue  # malformed, already reported by _check_stops
            pet_seats = sum(p.pets for p in on_board) * self.problem.rules.seats_per_pet
            seated = sum(p.people - p.wheelchair_users for p in on_board) + pet_seats
            wheelchairs = sum(p.wheelchair_users for p in on_board)
            if driver is not None and seated > driver.seats:
                with_pets = f" (counting {pet_seats} seats for pets)" if pet_seats else ""
                self.add("over_seats", f"stop {i}: {seated} seated on board{with_pets}, car has {driver.seats} seats",
                         driver_id=d)
            if driver is not None and wheelchairs > driver.wheelchair_spaces:
                self.add(
                    "over_wheelchair_spaces",
                    f"stop {i}: {wheelchairs} wheelchair users on board, car has "
                    f"{driver.wheelchair_spaces} wheelchair spaces",
                    driver_id=d,
                )
        for household_id in dict.fromkeys(p.household_id for p in on_board):
            self.add("left_on_board", "still on board at the end of the route", driver_id=d, household_id=household_id)

    def _check_boarding(self, i: int, stop: Stop, on_board: list[_Part], driver: Driver | None, d: str) -> None:
        """Pets only in cars that take them; nobody shares with a household that cannot share; no stretchers."""
        household = self.households.get(stop.household_id or "")
        if stop.pets and driver is not None and not driver.takes_pets:
            self.add("car_takes_no_pets", f"stop {i}: {stop.pets} pet(s) board a car that takes no pets",
                     driver_id=d, household_id=stop.household_id)
        if household is not None and household.has(Need.STRETCHER):
            self.add("stretcher_routed", f"stop {i}: needs a stretcher, not a seat in a volunteer car",
                     driver_id=d, household_id=household.id)
        riders = {p.household_id for p in on_board}
        alone = [h for h in riders if h in self.households and self.households[h].has(Need.CANNOT_SHARE)]
        if len(riders) > 1 and alone:
            self.add("shared_ride", f"stop {i}: {', '.join(sorted(alone))} cannot share, but "
                     f"{', '.join(sorted(riders))} are on board together", driver_id=d,
                     household_id=sorted(alone)[0])

    def _deliver(self, i: int, stop: Stop, part: _Part, driver_id: str) -> None:
        """Record one household part arriving at a shelter and check its ride time and the shelter's access."""
        shelter = self.shelters.get(stop.shelter_id or "")
        household = self.households.get(part.household_id)
        if shelter is None:
            return
        self.delivered[shelter.id] += part.people
        self.pets_delivered[shelter.id] += part.pets
        if household is None:
            return
        self.shelters_of[household.id].add(shelter.id)
        who = {"driver_id": driver_id, "household_id": household.id, "shelter_id": shelter.id}
        if part.pets and not shelter.pets_allowed:
            self.add("shelter_takes_no_pets", f"stop {i}: {part.pets} pet(s) taken to a shelter without pets", **who)
        if household.medical and not shelter.medical_support:
            needs = ", ".join(sorted(n.value for n in household.medical))
            self.add("no_medical_support", f"stop {i}: {needs} user taken to a shelter without medical support", **who)
        if part.wheelchair_users and not shelter.wheelchair_accessible:
            self.add(
                "shelter_not_accessible",
                f"stop {i}: {part.wheelchair_users} wheelchair users taken to a "
                "shelter that is not wheelchair accessible",
                driver_id=driver_id,
                household_id=household.id,
                shelter_id=shelter.id,
            )
        ride = stop.arrive_minute - part.depart_minute
        limit = self.problem.max_ride_minutes(household, shelter.id)
        if ride > limit + TOLERANCE_MINUTES:
            self.add(
                "ride_too_long",
                f"stop {i}: on board {ride:.2f} min, at most {limit:.2f}",
                driver_id=driver_id,
                household_id=household.id,
                shelter_id=shelter.id,
            )

    def _off_road_legs(self) -> set[tuple[str, int]]:
        """(driver, leg) of every leg whose points do not follow open roads, found for all legs at once; the
        per-leg check words only these (a re-plan's check was a quarter of a second, leg by leg)."""
        batch = getattr(self.road_graph, "off_road", None)  # a ``RoadGraph``; any other checker words each leg
        if batch is None:
            return {(route.driver_id, i) for route in self.plan.routes for i in range(len(route.legs))}
        keys: list[tuple[str, int]] = []
        paths: list[Any] = []
        for route in self.plan.routes:
            for i, leg in enumerate(route.legs):
                try:
                    paths.append(leg.lonlat)
                except ValueError:  # worded by ``_check_geometry``
                    continue
                keys.append((route.driver_id, i))
        return {keys[k] for k in batch(paths, self.closed_mask)}

    def _check_geometry(self, route: Route) -> None:
        """Every leg has road coordinates that follow usable roads, and each leg starts where the last ended."""
        assert self.road_graph is not None
        d = route.driver_id
        previous_end: tuple[float, float] | None = None
        for i, leg in enumerate(route.legs):
            try:
                points = leg.lonlat
            except ValueError as exc:  # a hand-edited plan with a broken polyline
                self.add("missing_geometry", f"leg {i}: the road path cannot be read: {exc}", driver_id=d)
                previous_end = None
                continue
            if len(points) < 1:
                self.add("missing_geometry", f"leg {i} has no coordinates", driver_id=d)
                previous_end = None
                continue
            message = self.road_graph.follows_roads(points, self.closed_mask) if (d, i) in self._faulty else None
            if message:
                self.add("off_road", f"leg {i}: {message}", driver_id=d)
            start = (float(points[0, 0]), float(points[0, 1]))
            if previous_end is not None and previous_end != start:
                self.add("legs_disconnected", f"leg {i} starts at {start}, leg {i - 1} ended at {previous_end}",
                         driver_id=d)
            previous_end = (float(points[-1, 0]), float(points[-1, 1]))

    # --- plan-wide -------------------------------------------------------------------------------------------

    def _check_shelters(self) -> None:
        for shelter_id, pets in self.pets_delivered.items():
            room = self.shelters[shelter_id].pet_room
            if pets > room:
                self.add("shelter_over_pet_capacity", f"{pets} pets delivered, pet capacity {room:g}",
                         shelter_id=shelter_id)
        for shelter_id, people in self.delivered.items():
            capacity = self.shelters[shelter_id].capacity
            if people > capacity:
                self.add(
                    "shelter_over_capacity", f"{people} people delivered, capacity {capacity}", shelter_id=shelter_id
                )
        for household_id, shelters in self.shelters_of.items():
            if len(shelters) > 1:
                self.add(
                    "split_shelters", f"parts go to shelters {', '.join(sorted(shelters))}", household_id=household_id
                )

    def _check_accounting(self) -> None:
        """Every household is served in full or unserved with a reason: exactly one of the two."""
        listed = Counter(u.household_id for u in self.plan.unserved)
        for unserved in self.plan.unserved:
            if unserved.household_id not in self.households:
                self.add(
                    "unknown_household", "listed as unserved but not in the problem", household_id=unserved.household_id
                )
            if not unserved.reason.strip():
                self.add("empty_reason", "unserved without a reason", household_id=unserved.household_id)
        for household_id, count in listed.items():
            if count > 1:
                self.add("duplicate_unserved", f"listed as unserved {count} times", household_id=household_id)
        for household in self.problem.households:
            served, not_served = household.id in self.pickups, household.id in listed
            if served and not_served:
                self.add("household_both", "picked up and also listed as unserved", household_id=household.id)
            elif not served and not not_served:
                self.add("household_missing", "neither picked up nor listed as unserved", household_id=household.id)
            if served:
                self._check_parts(household, self.pickups[household.id])

    def _check_parts(self, household: Household, stops: list[Stop]) -> None:
        """The pickups add up to the household, parts numbered 1..parts (a lone pickup may be unnumbered)."""
        h = household.id
        numbers = Counter(stop.part or 1 for stop in stops)
        repeated = sorted(n for n, count in numbers.items() if count > 1)
        if repeated:
            self.add("duplicate_pickup", f"part(s) {repeated} picked up more than once", household_id=h)
        else:
            declared = {stop.parts or 1 for stop in stops}
            if declared != {len(stops)} or set(numbers) != set(range(1, len(stops) + 1)):
                self.add(
                    "bad_parts",
                    f"{len(stops)} pickups numbered {sorted(numbers)} of {sorted(declared)}",
                    household_id=h,
                )
        pets = sum(stop.pets for stop in stops)
        if pets != household.pets:
            self.add("wrong_pets", f"pickups carry {pets} pets, household has {household.pets}", household_id=h)
        people = sum(stop.people for stop in stops)
        wheelchairs = sum(stop.wheelchair_users for stop in stops)
        if (people, wheelchairs) != (household.people, household.wheelchair_users):
            self.add(
                "incomplete_household",
                f"pickups carry {people} people / {wheelchairs} wheelchair users, "
                f"household has {household.people} / {household.wheelchair_users}",
                household_id=h,
            )

    def _check_metrics(self) -> None:
        metrics = self.plan.metrics
        arrivals = [s.arrive_minute for r in self.plan.routes for s in r.stops if s.type == "dropoff"]
        clearance = max(arrivals, default=0.0)
        if _off(metrics.clearance_minute, clearance):
            self.add("wrong_metrics", f"clearance_minute {metrics.clearance_minute}, last drop-off at {clearance:.2f}")
        expected = {
            "households_served": len(self.pickups),
            "households_unserved": len({u.household_id for u in self.plan.unserved}),
            "people_served": sum(s.people for stops in self.pickups.values() for s in stops),
        }
        for name, value in expected.items():
            if getattr(metrics, name) != value:
                self.add("wrong_metrics", f"{name} {getattr(metrics, name)}, the routes give {value}")


def check_plan(
    problem: Problem, plan: Plan, road_graph: RoadGraphLike | None = None, closed_mask: Any = None
) -> list[Violation]:
    """Every rule ``plan`` breaks for ``problem``, in route order then plan-wide; empty when the plan is valid.

    Times are minutes after the alert start, compared with a tolerance of ``TOLERANCE_MINUTES``. When
    ``road_graph`` is given, every leg must carry coordinates that ``road_graph.follows_roads(coordinates,
    closed_mask)`` accepts, and consecutive legs must connect. Raises nothing for a broken plan.
    """
    return _Checker(problem, plan, road_graph, closed_mask).run()


def assert_plan_valid(
    problem: Problem, plan: Plan, road_graph: RoadGraphLike | None = None, closed_mask: Any = None
) -> None:
    """Raise ``PlanInvalid`` listing every violation when ``plan`` breaks a rule of ``problem``."""
    violations = check_plan(problem, plan, road_graph=road_graph, closed_mask=closed_mask)
    if violations:
        raise PlanInvalid(violations)
