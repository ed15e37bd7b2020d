"""A plan as a short plain-text summary for a terminal: headline figures, shelters, unserved, drivers."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from matcher.plan import Plan, Route, Unserved
from matcher.problem import Household, Problem

# Ids only by default: terminal output ends up in logs and screenshots. ``contacts`` adds the name and
# phone of unserved households only, which the coordinator running the plan must call.

#: Above this many driving cars the driver section is grouped by finishing time (``verbose``: one line each).
DRIVER_LINES = 20
#: Width of a finishing-time group, minutes.
GROUP_MINUTES = 30


class _Clock:
    """Minutes after the alert start as ``minute 105.5 (19:45)`` when the alert has a start time."""

    def __init__(self, problem: Problem) -> None:
        self.start: datetime | None = None
        if problem.alert.start:
            try:
                self.start = datetime.fromisoformat(problem.alert.start)
            except ValueError:
                self.start = None

    def at(self, minute: float) -> str:
        if self.start is None:
            return ""
        return (self.start + timedelta(minutes=minute)).strftime("%H:%M")

    def note(self, minute: float) -> str:
        """`` (19:45)`` or nothing."""
        clock = self.at(minute)
        return f" ({clock})" if clock else ""


def _minute(value: float) -> str:
    return f"{value:.1f}"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _headline(plan: Plan, problem: Problem, time_limit: float | None) -> list[str]:
    m = plan.metrics
    clock = _Clock(problem)
    total_people = sum(h.people for h in problem.households)
    lines = [
        f"Plan {plan.scenario or problem.name}",
        f"  served      {m.households_served} of {len(problem.households)} households, "
        f"{m.people_served} of {total_people} people",
        f"  unserved    {_count(m.households_unserved, 'household')}",
    ]
    if m.households_served == 0:
        lines.append(f"  clearance   nobody moved (deadline minute {_minute(problem.deadline)}"
                     f"{clock.note(problem.deadline)})")
    else:
        spare = problem.deadline - m.clearance_minute
        verdict = f"{_minute(spare)} min to spare" if spare >= 0 else f"LATE by {_minute(-spare)} min"
        lines.append(
            f"  clearance   minute {_minute(m.clearance_minute)}{clock.note(m.clearance_minute)} of deadline "
            f"{_minute(problem.deadline)}{clock.note(problem.deadline)} ({verdict})"
        )
        if m.clearance_bound_minute:
            gap = 100.0 * (m.clearance_minute / m.clearance_bound_minute - 1.0)
            lines.append(f"  bound       no plan serving all of them clears before minute "
                         f"{_minute(m.clearance_bound_minute)} (gap {gap:.0f}%)")
    first = "" if m.first_plan_seconds is None else f", first plan after {m.first_plan_seconds:.2f} s"
    limit = "" if time_limit is None else f" (limit {time_limit:g} s)"
    solved = f"solved in {m.solve_seconds:.2f} s{limit}{first}"
    lines.append(f"  driving     {_minute(m.drive_minutes)} min in all; {solved}")
    return lines


def _shelters(plan: Plan, problem: Problem) -> list[str]:
    arrivals: Counter[str] = Counter()
    for route in plan.routes:
        for stop in route.stops:
            if stop.type == "dropoff" and stop.shelter_id:
                arrivals[stop.shelter_id] += stop.people
    width = max((len(s.id) for s in problem.shelters), default=0)
    lines = ["Shelters (people arriving / capacity)"]
    for s in problem.shelters:
        flags = [] if s.wheelchair_accessible else ["not wheelchair accessible"]
        if arrivals[s.id] > s.capacity:
            flags.append("OVER CAPACITY")
        note = f"  ({', '.join(flags)})" if flags else ""
        lines.append(f"  {s.id:<{width}}  {arrivals[s.id]:>4} / {s.capacity}{note}")
    return lines


def _contact(household: Household | None, household_id: str) -> str:
    """``H12  Anna Virtanen  +358 40 123 4567  3 people, 1 wheelchair user`` for a call list."""
    if household is None:
        return household_id
    parts = [household_id, household.name or "(no name)", household.phone or "(no phone)",
             _count(household.people, "person", "people")]
    if household.wheelchair_users:
        parts[-1] += f", {_count(household.wheelchair_users, 'wheelchair user')}"
    return "  ".join(parts)


def _unserved(unserved: tuple[Unserved, ...], problem: Problem, contacts: bool) -> list[str]:
    """Grouped by code; the reason text once per distinct reason, with its ids (or one call line each)."""
    if not unserved:
        return ["Unserved: none"]
    by_code: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in unserved:
        by_code[u.code][u.reason].append(u.household_id)
    households = {h.id: h for h in problem.households} if contacts else {}
    lines = [f"Unserved ({_count(len(unserved), 'household')})"]
    for code, reasons in sorted(by_code.items(), key=lambda item: -sum(map(len, item[1].values()))):
        count = sum(map(len, reasons.values()))
        lines.append(f"  {code} ({count})")
        for reason, ids in reasons.items():
            if contacts:
                lines.append(f"    {reason}:")
                lines.extend(f"      {_contact(households.get(i), i)}" for i in ids)
            else:
                lines.append(f"    {reason}: {', '.join(ids)}")
    return lines


def _trips(route: Route) -> int:
    """A trip ends at the first drop-off after one or more pickups (consecutive drop-offs are one trip)."""
    return sum(
        1
        for prev, stop in zip(route.stops, route.stops[1:], strict=False)
        if prev.type == "pickup" and stop.type == "dropoff"
    )


def _last_dropoff(route: Route) -> float | None:
    return max((s.arrive_minute for s in route.stops if s.type == "dropoff"), default=None)


def _driver_groups(routes: list[Route], problem: Problem) -> list[str]:
    """Drivers by when they finish, in ``GROUP_MINUTES`` bands, and the few who finish last (they set clearance)."""
    clock = _Clock(problem)
    bands: dict[int, list[Route]] = defaultdict(list)
    for route in routes:
        last = _last_dropoff(route)
        bands[-1 if last is None else int(last // GROUP_MINUTES)].append(route)
    lines = [f"Drivers ({len(routes)} driving; by last drop-off; --verbose for one line each)"]
    for band in sorted(bands):
        group = bands[band]
        trips = sum(_trips(r) for r in group)
        people = sum(s.people for r in group for s in r.stops if s.type == "pickup")
        if band < 0:
            when = "no drop-off"
        else:
            lo, hi = band * GROUP_MINUTES, (band + 1) * GROUP_MINUTES
            span = f" ({clock.at(lo)}-{clock.at(hi)})" if clock.start else ""
            when = f"minute {lo}-{hi}{span}"
        lines.append(f"  {when}: {_count(len(group), 'driver')}, {_count(trips, 'trip')}, "
                     f"{_count(people, 'person', 'people')}")
    latest = sorted((r for r in routes if _last_dropoff(r) is not None), key=lambda r: -(_last_dropoff(r) or 0.0))[:5]
    if latest:
        lines.append("  last to finish: " + ", ".join(
            f"{r.driver_id} minute {_minute(_last_dropoff(r) or 0.0)}{clock.note(_last_dropoff(r) or 0.0)}"
            for r in latest))
    return lines


def _drivers(plan: Plan, problem: Problem, verbose: bool) -> list[str]:
    routes = [r for r in plan.routes if r.stops]
    if not verbose and len(routes) > DRIVER_LINES:
        lines = _driver_groups(routes, problem)
        driving = {r.driver_id for r in routes}
        idle = [d.id for d in problem.drivers if d.id not in driving]
        if idle:
            lines.append(f"  idle ({len(idle)}): {', '.join(idle[:DRIVER_LINES])}{' ...' if len(idle) > 20 else ''}")
        return lines
    clock = _Clock(problem)
    width = max((len(r.driver_id) for r in routes), default=0)
    lines = ["Drivers"]
    for route in routes:
        people = sum(s.people for s in route.stops if s.type == "pickup")
        last = max((s.arrive_minute for s in route.stops if s.type == "dropoff"), default=None)
        end = "no drop-off" if last is None else f"last drop-off minute {_minute(last)}{clock.note(last)}"
        trips, moved = _count(_trips(route), "trip"), _count(people, "person", "people")
        lines.append(f"  {route.driver_id:<{width}}  {trips}, {moved}, {end}")
    driving = {r.driver_id for r in routes}
    idle = [d.id for d in problem.drivers if d.id not in driving]
    if idle:
        lines.append(f"  idle ({len(idle)}): {', '.join(idle)}")
    return lines


def format_summary(plan: Plan, problem: Problem, *, time_limit: float | None = None, verbose: bool = False,
                   contacts: bool = False) -> str:
    """A readable multi-line summary of ``plan`` for ``problem``; minutes are after the alert start.

    Figures come from ``plan.metrics`` (check the plan first if it may be hand-edited); shelter arrivals and
    per-driver lines come from the routes. Clock times follow minutes when the alert has a start time.
    More than ``DRIVER_LINES`` driving cars are grouped by finishing time unless ``verbose``. Record ids
    only, unless ``contacts``: then each unserved household also shows its name and phone (a call list).
    """
    sections = [
        _headline(plan, problem, time_limit),
        _shelters(plan, problem),
        _unserved(plan.unserved, problem, contacts),
        _drivers(plan, problem, verbose),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
