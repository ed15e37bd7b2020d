"""A plan as a short plain-text summary for a terminal: headline figures, shelters, unserved, drivers (ids only)."""

from __future__ import annotations

from collections import Counter, defaultdict

from matcher.plan import Plan, Route, Unserved
from matcher.problem import Problem

# Ids only, never names or phones: terminal output ends up in logs and screenshots.


def _minute(value: float) -> str:
    return f"{value:.1f}"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _headline(plan: Plan, problem: Problem) -> list[str]:
    m = plan.metrics
    total_people = sum(h.people for h in problem.households)
    lines = [
        f"Plan {plan.scenario or problem.name}",
        f"  served      {m.households_served} of {len(problem.households)} households, "
        f"{m.people_served} of {total_people} people",
        f"  unserved    {_count(m.households_unserved, 'household')}",
    ]
    if m.households_served == 0:
        lines.append(f"  clearance   nobody moved (deadline minute {_minute(problem.deadline)})")
    else:
        spare = problem.deadline - m.clearance_minute
        verdict = f"{_minute(spare)} min to spare" if spare >= 0 else f"LATE by {_minute(-spare)} min"
        lines.append(
            f"  clearance   minute {_minute(m.clearance_minute)} of deadline {_minute(problem.deadline)} ({verdict})"
        )
    first = "" if m.first_plan_seconds is None else f", first plan after {m.first_plan_seconds:.2f} s"
    lines.append(f"  driving     {_minute(m.drive_minutes)} min in all; solved in {m.solve_seconds:.2f} s{first}")
    if m.latest_pickup_by_priority:
        latest = ", ".join(f"priority {p} by minute {_minute(v)}" for p, v in m.latest_pickup_by_priority.items())
        lines.append(f"  pickups     {latest}")
    if m.pickup_targets_total:
        lines.append(f"  targets     {m.pickup_targets_met} of {m.pickup_targets_total} urgent households picked "
                     "up within their target")
    if m.language_households:
        lines.append(f"  language    {m.language_matched} of {m.language_households} households with a driver who "
                     "speaks their language")
    meeting = sum(1 for r in plan.routes for s in r.stops if s.type == "pickup" and s.meeting_point is not None)
    if meeting:
        lines.append(f"  meeting     {_count(meeting, 'pickup')} at a meeting point (street closed)")
    return lines


def _shelters(plan: Plan, problem: Problem) -> list[str]:
    arrivals: Counter[str] = Counter()
    for route in plan.routes:
        for stop in route.stops:
            if stop.type == "dropoff" and stop.shelter_id:
                arrivals[stop.shelter_id] += stop.people
    width = max((len(s.id) for s in problem.shelters), default=0)
    pets: Counter[str] = Counter()
    for route in plan.routes:
        for stop in route.stops:
            if stop.type == "dropoff" and stop.shelter_id:
                pets[stop.shelter_id] += stop.pets
    lines = ["Shelters (people arriving / capacity)"]
    for s in problem.shelters:
        flags = [] if s.wheelchair_accessible else ["not wheelchair accessible"]
        if s.pets_allowed:
            flags.append(f"{pets[s.id]} pets" + ("" if s.pet_capacity is None else f" / {s.pet_capacity}"))
        if s.medical_support:
            flags.append("medical support")
        if arrivals[s.id] > s.capacity:
            flags.append("OVER CAPACITY")
        note = f"  ({', '.join(flags)})" if flags else ""
        lines.append(f"  {s.id:<{width}}  {arrivals[s.id]:>4} / {s.capacity}{note}")
    return lines


def _unserved(unserved: tuple[Unserved, ...]) -> list[str]:
    """Grouped by code; the reason text once per distinct reason, with its ids."""
    if not unserved:
        return ["Unserved: none"]
    by_code: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in unserved:
        by_code[u.code][u.reason].append(u.household_id)
    lines = [f"Unserved ({_count(len(unserved), 'household')})"]
    for code, reasons in sorted(by_code.items(), key=lambda item: -sum(map(len, item[1].values()))):
        count = sum(map(len, reasons.values()))
        lines.append(f"  {code} ({count})")
        for reason, ids in reasons.items():
            lines.append(f"    {reason}: {', '.join(ids)}")
    return lines


def _trips(route: Route) -> int:
    """A trip ends at the first drop-off after one or more pickups (consecutive drop-offs are one trip)."""
    return sum(
        1
        for prev, stop in zip(route.stops, route.stops[1:], strict=False)
        if prev.type == "pickup" and stop.type == "dropoff"
    )


def _drivers(plan: Plan, problem: Problem) -> list[str]:
    routes = [r for r in plan.routes if r.stops]
    width = max((len(r.driver_id) for r in routes), default=0)
    lines = ["Drivers"]
    for route in routes:
        people = sum(s.people for s in route.stops if s.type == "pickup")
        last = max((s.arrive_minute for s in route.stops if s.type == "dropoff"), default=None)
        end = "no drop-off" if last is None else f"last drop-off minute {_minute(last)}"
        trips, moved = _count(_trips(route), "trip"), _count(people, "person", "people")
        lines.append(f"  {route.driver_id:<{width}}  {trips}, {moved}, {end}")
    driving = {r.driver_id for r in routes}
    idle = [d.id for d in problem.drivers if d.id not in driving]
    if idle:
        lines.append(f"  idle ({len(idle)}): {', '.join(idle)}")
    return lines


def format_summary(plan: Plan, problem: Problem) -> str:
    """A readable multi-line summary of ``plan`` for ``problem``; minutes are after the alert start.

    Figures come from ``plan.metrics`` (check the plan first if it may be hand-edited); shelter arrivals and
    per-driver lines come from the routes. Contains record ids only, no personal data.
    """
    sections = [
        _headline(plan, problem),
        _shelters(plan, problem),
        _unserved(plan.unserved),
        _drivers(plan, problem),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
