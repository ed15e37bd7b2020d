"""One replication of a drill in simulated minutes (SimPy): cars drive, events fire, the coordinator re-plans.

The coordinator knows the plan and what is reported to it; the *world* (who is really at home, when they are
really ready, how long a road really takes) is drawn from the replication's seed. The cars' stops become
stop reports and the coordinator's picture a ``LiveState`` (``matcher.live.derive_state``); re-plans go through
the service's entry point and policy (``matcher.solver.replan.replan_checked``), which re-checks every future
against its residual problem on the open roads of the moment. Re-plans spend a work budget, never a clock.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from matcher.check import PlanInvalid
from matcher.codes import StopStatus, UnservedCode
from matcher.errors import EvacError
from matcher.live import Closures, LiveEvent, LiveState, StopReport, derive_state
from matcher.plan import Plan, Stop, Unserved
from matcher.problem import Problem
from matcher.region_replan import replan_region
from matcher.solver.replan import DEFAULT_POLICY, replan_checked
from matcher.travel import LocationRef
from scenarios.spec import MAP_ACTIONS, Event
from scenarios.world import DrillContext

#: Simulated minutes after the deadline at which a replication stops whatever is still driving.
OVERTIME_MINUTES = 240.0
#: What each coordinator trigger is to the re-plan policy (``matcher.solver.replan.ReplanPolicy``).
TRIGGER_EVENTS = {"no_show_found": LiveEvent.NO_SHOW, "not_ready": LiveEvent.NOT_READY,
                  "close_roads": LiveEvent.CLOSURE, "flood_zone": LiveEvent.CLOSURE,
                  "driver_drops_out": LiveEvent.DROPOUT, "new_request": LiveEvent.NEW_REQUEST,
                  "shelter_fills": LiveEvent.SHELTER_CHANGE}


class DrillError(EvacError):
    """A broken invariant of the simulation (history rewritten, a rider left behind): a bug, never bad input."""

    exit_code = 3


@dataclass(frozen=True)
class NoShowFound:
    """A driver found nobody at the door."""

    driver_id: str
    household_id: str


@dataclass
class Car:
    """A volunteer's car as it moves: its route in the current plan and how far along it is."""

    id: str
    anchor: LocationRef  # where the re-plan believes the car is: its last committed stop (or home)
    origin: LocationRef  # where its current leg started
    route: list[Stop] = field(default_factory=list)
    pos: int = 0  # stops committed (arrived, household at the door): LiveState's ``completed``
    reports: list[StopStatus] = field(default_factory=list)  # what the driver reported at each committed stop
    phase: str = "before"  # before, driving, stop, waiting, idle, done
    leg_start: float = 0.0
    leg_minutes: float = 0.0
    target: LocationRef | None = None
    divert: tuple[float, float, LocationRef, LocationRef] | None = None  # elapsed, remaining, from, to
    on_board: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # household -> (people, boarded)
    busy: float = 0.0
    wake: simpy.Event | None = None
    process: simpy.Process | None = None


class Replication:
    """Simulate one replication; ``run()`` returns its record (plain data, JSON-ready)."""

    def __init__(self, ctx: DrillContext, index: int, seed: int) -> None:
        self.ctx, self.spec, self.index, self.seed = ctx, ctx.spec, index, seed
        self.env = simpy.Environment()
        world_rng, self.noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        self.stage_k = 0
        self.plan: Plan = ctx.base_plan
        self.ready_override: dict[str, float] = {}
        self.capacity_override: dict[str, int] = {}
        self.dropped: set[str] = set()
        self.no_shows: set[str] = set()
        self.stuck: set[str] = set()
        self.reasons: dict[str, Unserved] = {}
        self.inbox: simpy.Store = simpy.Store(self.env)
        self.log: list[tuple[float, str]] = []
        self.replans: list[dict[str, Any]] = []
        self.picked: dict[str, int] = {}
        self.delivered: dict[str, int] = {}
        self.delivered_at: dict[str, float] = {}
        self.ride: dict[str, float] = {}
        #: Minute boarding began, per household (its last part): the drill's latest pickup per priority.
        self.pickup_at: dict[str, float] = {}
        self.first_driver: dict[str, str] = {}
        self.deliveries: list[tuple[float, int]] = []
        self._draw_world(world_rng)
        base = ctx.stage(0).problem
        self.cars = {d.id: Car(d.id, LocationRef("driver", d.id), LocationRef("driver", d.id)) for d in base.drivers}
        for route in self.plan.routes:
            self.cars[route.driver_id].route = list(route.stops)

    def _draw_world(self, rng: np.random.Generator) -> None:
        """Who is away, who is late, who drops out: drawn in a fixed order so a seed repeats exactly."""
        r = self.spec.randomness
        households = list(self.spec.scenario.get("households") or [])
        households += [e.target for e in self.spec.timeline if e.action == "new_request"]
        self.absent_from: dict[str, float] = {}
        self.actual_ready: dict[str, float] = {}
        for h in sorted(households, key=lambda rec: str(rec["id"])):
            hid = str(h["id"])
            away, late, delay = rng.random(), rng.random(), rng.exponential(r.late_mean_minutes or 1.0)
            if away < r.no_show_probability:
                self.absent_from[hid] = 0.0
            ready = float(h.get("ready_from_minute", 0.0))
            self.actual_ready[hid] = ready + (delay if late < r.late_probability else 0.0)
        random_drops: list[Event] = []
        for d in sorted(self.spec.scenario.get("drivers") or [], key=lambda rec: str(rec["id"])):
            drops, minute = rng.random(), rng.uniform(*r.dropout_window)
            if drops < r.dropout_probability:
                random_drops.append(Event(round(minute, 2), "driver_drops_out", str(d["id"]), note="by chance"))
        self.events = sorted([*self.spec.timeline, *random_drops], key=lambda e: e.minute)

    # --- the world -------------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.log.append((round(self.env.now, 2), text))

    def _noisy(self, origin: LocationRef, target: LocationRef) -> float:
        """Real minutes of one drive: each road class's share of the planned minutes times its own lognormal factor."""
        if origin == target:
            return 0.0
        minutes, split = self.ctx.leg_split(self.stage_k, origin, target)
        if not math.isfinite(minutes):
            return minutes
        factors = np.exp(self.ctx.sigmas * self.noise_rng.standard_normal(len(split)))
        return float(split @ factors)

    def _nominal(self, origin: LocationRef, target: LocationRef) -> float:
        return 0.0 if origin == target else self.ctx.leg_split(self.stage_k, origin, target)[0]

    def _leg(self, car: Car, target: LocationRef) -> float:
        """Minutes to ``target`` from where the car is; a diverted car turns back or drives on, whichever is sooner."""
        if car.divert is not None:
            elapsed, remaining, a, b = car.divert
            car.divert = None
            options = [(elapsed + self._nominal(a, target), elapsed, a),
                       (remaining + self._nominal(b, target), remaining, b)]
            finite = [o for o in options if math.isfinite(o[0])]
            if finite:
                _, extra, car.origin = min(finite, key=lambda o: o[0])
                return extra + self._noisy(car.origin, target)
        minutes = self._noisy(car.origin, target)
        if not math.isfinite(minutes):
            # The road from where the car stands is gone; the plan was made from its last stop: go from there.
            self.say(f"car {car.id}: no road from {car.origin.id}; leaves from {car.anchor.id}")
            car.origin = car.anchor
            minutes = self._noisy(car.origin, target)
        return minutes

    def _absent(self, household_id: str) -> bool:
        return self.absent_from.get(household_id, math.inf) <= self.env.now and not self.picked.get(household_id)

    # --- cars -----------------------------------------------------------------------------------------------

    def _drive(self, car: Car):  # type: ignore[no-untyped-def]
        """A car's life: wait for its start, then drive its route stop by stop, following every re-plan."""
        problem = self.ctx.stage(0).problem
        start = problem.driver(car.id).available_from_minute
        if start > self.env.now:
            yield self.env.timeout(start - self.env.now)
        service = problem.service
        while True:
            if car.pos >= len(car.route):
                if car.divert is not None:  # its stop was taken away mid-leg: pull over at the nearer end
                    elapsed, remaining, a, b = car.divert
                    car.divert = None
                    car.origin, park = (a, elapsed) if elapsed <= remaining else (b, remaining)
                    yield from self._leg_to(car, car.origin, park)
                    continue
                if car.id in self.dropped:
                    car.phase = "done"
                    return
                car.phase, car.wake = "idle", self.env.event()
                yield car.wake
                continue
            target = car.route[car.pos].place
            minutes = self._leg(car, target)
            if not math.isfinite(minutes):
                # Water closed every road out while the car stood here: it stays, with whoever is on board.
                self.say(f"car {car.id}: no open road to {target.kind} {target.id}; stuck")
                car.phase = "stuck"
                self.stuck.add(car.id)
                return
            arrived = yield from self._leg_to(car, target, minutes)
            if not arrived:
                continue
            car.origin = target
            stop = car.route[car.pos]  # a re-plan may have changed what happens here, never where
            if stop.type == "pickup":
                hid = str(stop.household_id)
                if self._absent(hid):
                    # The driver has been there: the stop is done and reported, with nobody on board.
                    self._commit(car, target, StopStatus.NO_SHOW)
                    car.phase = "stop"
                    yield self.env.timeout(service.pickup)  # knocks, calls, waits a little
                    car.busy += service.pickup
                    self.say(f"car {car.id}: nobody at household {hid}")
                    car.phase, car.wake = "waiting", self.env.event()
                    self.inbox.put(NoShowFound(car.id, hid))
                    yield car.wake
                    continue
                self._commit(car, target, StopStatus.PICKED_UP)
                self.picked[hid] = self.picked.get(hid, 0) + stop.people
                self.first_driver.setdefault(hid, car.id)
                car.phase = "stop"
                wait = self.actual_ready.get(hid, 0.0) - self.env.now
                if wait > 0:
                    yield self.env.timeout(wait)
                self.pickup_at[hid] = self.env.now
                yield self.env.timeout(service.pickup)
                car.busy += service.pickup
                car.on_board.setdefault(hid, []).append((stop.people, self.env.now))
            else:
                self._commit(car, target, StopStatus.DROPPED_OFF)
                self._unload(car, stop)
                car.phase = "stop"
                yield self.env.timeout(service.dropoff)
                car.busy += service.dropoff

    def _leg_to(self, car: Car, target: LocationRef, minutes: float):  # type: ignore[no-untyped-def]
        """Drive one leg; ``False`` when a re-plan sent the car elsewhere on the way."""
        car.phase, car.leg_start, car.leg_minutes, car.target = "driving", self.env.now, minutes, target
        try:
            yield self.env.timeout(minutes)
        except simpy.Interrupt:
            elapsed = self.env.now - car.leg_start
            car.busy += elapsed
            car.divert = (elapsed, max(0.0, minutes - elapsed), car.origin, target)
            return False
        car.busy += minutes
        return True

    def _commit(self, car: Car, place: LocationRef, status: StopStatus) -> None:
        """The car's stop at ``place`` is done: it is history for every later re-plan."""
        car.reports.append(status)
        car.pos += 1
        car.anchor = place

    def _unload(self, car: Car, stop: Stop) -> None:
        now = self.env.now
        for hid in stop.household_ids:
            for people, boarded in car.on_board.pop(hid, []):
                self.delivered[hid] = self.delivered.get(hid, 0) + people
                self.ride[hid] = max(self.ride.get(hid, 0.0), now - boarded)
                self.deliveries.append((round(now, 3), people))
            if self.delivered.get(hid, 0) >= self._people(hid) and hid not in self.delivered_at:
                self.delivered_at[hid] = now

    def _people(self, household_id: str) -> int:
        return self.ctx.stage(self.ctx.stage_count - 1).problem.household(household_id).people

    # --- the coordinator ------------------------------------------------------------------------------------

    def _timeline(self):  # type: ignore[no-untyped-def]
        for event in self.events:
            if event.minute > self.env.now:
                yield self.env.timeout(event.minute - self.env.now)
            self.inbox.put(event)

    def _coordinator(self):  # type: ignore[no-untyped-def]
        """Take reports as they come; everything reported in one minute is handled by one re-plan."""
        while True:
            batch = [(yield self.inbox.get())]
            yield self.env.timeout(0)  # let the rest of this minute's reports arrive
            while self.inbox.items:
                batch.append((yield self.inbox.get()))
            triggers = [t for t in (self._apply(item) for item in batch) if t]
            if triggers:
                self._replan(triggers)

    def _apply(self, item: Event | NoShowFound) -> str | None:
        """Update the world and the coordinator's picture; the trigger name when a re-plan is needed."""
        if isinstance(item, NoShowFound):
            self.no_shows.add(item.household_id)
            return "no_show_found"
        self.say(item.describe())
        if item.action in MAP_ACTIONS:
            self.stage_k += 1
            return item.action
        if item.action == "driver_drops_out":
            if item.target in self.dropped:
                return None
            self.dropped.add(item.target)
            return item.action
        if item.action == "no_show":
            # The coordinator does not know yet: a driver will find nobody at the door.
            self.absent_from[item.target] = min(self.absent_from.get(item.target, math.inf), item.minute)
            return None
        if item.action == "not_ready":
            if self.picked.get(item.target):
                return None
            self.actual_ready[item.target] = max(self.actual_ready.get(item.target, 0.0), float(item.ready_minute or 0))
            self.ready_override[item.target] = float(item.ready_minute or 0)
            return item.action
        self.capacity_override[item.target] = int(item.capacity or 0)
        return item.action

    def picture(self) -> Problem:
        """The problem as the coordinator knows it now."""
        base = self.ctx.stage(self.stage_k).problem
        households = tuple(dataclasses.replace(h, ready_from_minute=self.ready_override[h.id])
                           if h.id in self.ready_override else h for h in base.households)
        shelters = tuple(dataclasses.replace(s, capacity=self.capacity_override[s.id])
                         if s.id in self.capacity_override else s for s in base.shelters)
        return Problem(base.name, households, base.drivers, shelters, base.alert, base.travel, base.service)

    def state(self, triggers: list[str]) -> LiveState:
        """The coordinator's live state: the cars' stops as reported, drop-outs, what happened (translation only)."""
        reports = [StopReport(car.id, i, status, car.route[i].household_id)
                   for car in self.cars.values() for i, status in enumerate(car.reports)]
        known = {h.id for h in self.ctx.stage(0).problem.households}
        alert = self.ctx.stage(self.stage_k).problem.alert
        # A stuck car can drive no more, like a driver who dropped out.
        return derive_state(self.plan, reports, self.env.now, dropped_drivers=frozenset(self.dropped | self.stuck),
                            new_requests=frozenset(h.id for h in self.picture().households if h.id not in known),
                            closures=Closures(tuple(alert.closed_ways), len(alert.flood_zones)),
                            events=frozenset(TRIGGER_EVENTS[t] for t in triggers))

    def _replan(self, triggers: list[str]) -> None:
        """Re-plan as the service does: the same entry point and policy, on a work budget (the clock only a far
        safety stop, so a drill repeats on a busy machine; a re-plan that reaches it is marked in the record)."""
        now = self.env.now
        stage = self.ctx.stage(self.stage_k)
        params = self.spec.params(self.spec.replan_time_limit_seconds)
        zones: tuple[str, ...] | None = None
        try:
            with np.errstate(invalid="ignore"):  # a stuck car's riders arrive at "infinity"; that is known
                if self.ctx.regional:  # as the service does: only the touched zones and their neighbours
                    region = self.ctx.region(self.stage_k)
                    regional = replan_region(region, self.picture(), self.plan, self.state(triggers), params,
                                             DEFAULT_POLICY, road_graph=stage.graph, closed_mask=stage.closed_mask,
                                             seconds_per_zone=self.ctx.region_params.zone_seconds(
                                                 len(region.zones.names)))
                    outcome, zones = regional.outcome, regional.zones
                else:
                    outcome = replan_checked(self.picture(), self.plan, self.state(triggers), params,
                                             DEFAULT_POLICY, road_graph=stage.graph, closed_mask=stage.closed_mask)
        except PlanInvalid as exc:
            # SimPy re-raises process errors by re-creating them: carry the checker's words in a plain error.
            raise DrillError(f"run {self.index}, minute {now:.1f}, re-plan after {'+'.join(triggers)}: {exc}") from None
        result = outcome.result
        riders = self._check_kept(result.plan)
        self.plan = result.plan
        # The merged plan counts a household as served once any part is; the future still says why the rest is not.
        for hid in result.future.picked_ids():
            self.reasons.pop(hid, None)
        self.reasons.update({u.household_id: u for u in (*result.future.unserved, *result.plan.unserved)})
        for car in self.cars.values():
            self._reroute(car)
        trigger = "+".join(sorted(set(triggers)))
        self.say(f"re-plan ({trigger}): {result.plan.metrics.households_served} households planned, "
                 f"{len(result.reassigned)} moved to another car")
        self.replans.append({
            "minute": round(now, 2), "trigger": trigger, "improve": outcome.improved,
            "stability": round(result.stability, 4), "reassigned": len(result.reassigned),
            "riders_on_board": riders, "planned_served": result.plan.metrics.households_served,
            "seconds": round(outcome.seconds, 4),
            # The clock's far safety stop cut the search: this re-plan may differ between runs.
            "safety_stopped": outcome.safety_stopped,
        })
        if zones is not None:  # a regional drill: which zones this re-plan solved again
            self.replans[-1]["zones"] = list(zones)

    def _check_kept(self, plan: Plan) -> int:
        """Completed stops are unchanged and every rider on board is dropped off later by the same car."""
        riders = 0
        for car in self.cars.values():
            route = plan.route(car.id)
            stops = list(route.stops) if route else []
            if [s.place for s in stops[: car.pos]] != [s.place for s in car.route[: car.pos]]:
                raise DrillError(f"re-plan rewrote the completed stops of car {car.id}")
            later = {hid for s in stops[car.pos:] if s.type == "dropoff" for hid in s.household_ids}
            if not set(car.on_board) <= later:
                raise DrillError(f"re-plan left riders {sorted(set(car.on_board) - later)} without car {car.id}")
            riders += len(car.on_board)
        return riders

    def _reroute(self, car: Car) -> None:
        route = self.plan.route(car.id)
        car.route = list(route.stops) if route else []
        nxt = car.route[car.pos].place if car.pos < len(car.route) else None
        if car.phase == "driving" and nxt != car.target and car.process is not None:
            car.process.interrupt("re-plan")
        elif car.phase in ("idle", "waiting") and car.wake is not None and not car.wake.triggered:
            car.wake.succeed()

    # --- run ------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Simulate until every car is done (or long past the deadline) and return the record."""
        for car in self.cars.values():
            car.process = self.env.process(self._drive(car))
        self.env.process(self._timeline())
        self.env.process(self._coordinator())
        self.env.run(until=self.spec.deadline + OVERTIME_MINUTES)
        return self._record()

    def _record(self) -> dict[str, Any]:
        deadline = self.spec.deadline
        final = self.ctx.stage(self.ctx.stage_count - 1).problem
        reasons = self.reasons
        stuck_riders = {hid for c in self.stuck for hid in self.cars[c].on_board}
        households: dict[str, dict[str, Any]] = {}
        for h in final.households:
            at = self.delivered_at.get(h.id)
            if at is not None:
                status = "served" if at <= deadline + 1e-9 else "late"
            elif h.id in self.no_shows:
                status = UnservedCode.NO_SHOW
            elif h.id in stuck_riders:
                status = "stuck"
            elif h.id in reasons:
                status = reasons[h.id].code
            else:
                status = "not_reached"
            households[h.id] = {"status": status, "delivered": None if at is None else round(at, 2),
                                "ride": round(self.ride[h.id], 2) if h.id in self.ride else None,
                                "picked_up": round(self.pickup_at[h.id], 2) if h.id in self.pickup_at else None,
                                "driver": self.first_driver.get(h.id)}
        base = self.ctx.stage(0).problem
        drivers = {}
        for d in base.drivers:
            drop = next((e.minute for e in self.events if e.action == "driver_drops_out" and e.target == d.id), None)
            window = base.driver_end(d) - d.available_from_minute
            drivers[d.id] = {"busy": round(self.cars[d.id].busy, 2), "window": round(window, 2),
                             "dropped": drop}
        return {
            "index": self.index, "seed": self.seed, "households": households,
            "deliveries": sorted(self.deliveries), "replans": self.replans, "drivers": drivers,
            "reasons": {hid: u.reason for hid, u in sorted(reasons.items())},
            "log": [list(entry) for entry in self.log],
        }


def simulate(ctx: DrillContext, index: int, seed: int) -> dict[str, Any]:
    """Run replication ``index`` with its own ``seed``."""
    return Replication(ctx, index, seed).run()
