"""Bus Evacuation Problem (Bish 2011) instances from the CEC 2017 GRASP paper, read into our ``Problem``.

Buses start at depots, carry bus-loads from assembly points (APs) to shelters and may make several
trips; the BEP objective, the longest bus schedule, is our clearance minute (service times are 0 and
buses do not return). Travel times come from the instance file, not from a map: depot -> AP,
AP -> shelter and, for the trips after the first, shelter -> AP (the same as AP -> shelter).
File format: ``shared/benchmarks/README.md``, section 3.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from matcher.problem import Alert, Driver, Household, Problem, ServiceMinutes, Shelter
from matcher.travel import LocationRef, TravelTimes

#: The shared benchmark data, beside this repository.
#: ``EVAC_SHARED_DIR`` points elsewhere (a git worktree is not beside the shared folder).
BEP_DIR = Path(os.environ.get("EVAC_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared") \
    / "benchmarks" / "bus-evacuation-bep"

#: Deadline and ride limit stand-ins for "unbounded": the BEP has neither.
UNBOUNDED_MINUTES = 10**6


@dataclass(frozen=True, eq=False)
class BepInstance:
    """One BEP instance as written in its file; ``*_minutes`` are its integer travel times."""

    name: str
    bus_capacity: int
    buses_per_depot: tuple[int, ...]
    demand: tuple[int, ...]
    shelter_capacity: tuple[int, ...]
    depot_to_ap_minutes: npt.NDArray[np.float64]  # (depots, APs)
    ap_to_shelter_minutes: npt.NDArray[np.float64]  # (APs, shelters)

    @property
    def buses(self) -> int:
        return sum(self.buses_per_depot)


def _ints(text: str) -> list[int]:
    return [int(tok) for tok in text.split()]


def read_bep(path: Path) -> BepInstance:
    """Parse one instance file; ``ValueError`` when its counts or totals disagree with its rows."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    n_buses, capacity = _ints(lines[0])[:2]
    depots = _ints(lines[1])
    ap_line = _ints(lines[2])
    shelter_line = _ints(lines[3])
    n_depots, per_depot = depots[0], tuple(depots[1:])
    n_aps, total_demand, demand = ap_line[0], ap_line[1], tuple(ap_line[2:])
    n_shelters, total_capacity, capacity_s = shelter_line[0], shelter_line[1], tuple(shelter_line[2:])
    rows = [_ints(line) for line in lines[4:]]
    problems = []
    if len(per_depot) != n_depots or sum(per_depot) != n_buses:
        problems.append(f"buses per depot {per_depot} do not make {n_depots} depots with {n_buses} buses")
    if len(demand) != n_aps or sum(demand) != total_demand:
        problems.append(f"AP demands do not make {n_aps} APs totalling {total_demand}")
    if len(capacity_s) != n_shelters or sum(capacity_s) != total_capacity:
        problems.append(f"shelter capacities do not make {n_shelters} shelters totalling {total_capacity}")
    if len(rows) != n_depots + n_aps:
        problems.append(f"{len(rows)} distance rows, expected {n_depots} + {n_aps}")
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    depot_rows = sorted(rows[:n_depots])  # rows start with their 1-based id
    ap_rows = sorted(rows[n_depots:])
    return BepInstance(
        name=path.stem,
        bus_capacity=capacity,
        buses_per_depot=per_depot,
        demand=demand,
        shelter_capacity=capacity_s,
        depot_to_ap_minutes=np.array([r[1:] for r in depot_rows], dtype=np.float64).reshape(n_depots, n_aps),
        ap_to_shelter_minutes=np.array([r[1:] for r in ap_rows], dtype=np.float64).reshape(n_aps, n_shelters),
    )


def bep_problem(inst: BepInstance, *, per_bus_load: bool = True) -> Problem:
    """The instance as our problem: one driver per bus at its depot, households at the APs.

    With ``per_bus_load`` every bus-load at an AP is its own household, so the loads of one AP may go to
    different shelters as in the BEP (the real instances have exactly as much shelter room as demand).
    Without it each AP is one household that ``requests_for`` splits into bus-loads, all bound for one
    shelter (how we keep a family together), which leaves APs unserved when shelter room is tight.
    Positions are dummies (0, 0): the travel times are the instance's own. Legs the BEP does not have
    (between APs, depot -> shelter, ...) are ``inf``; loads at one AP are 0 minutes apart.
    """
    drivers = [
        Driver(f"B{d + 1}.{k + 1}", 0.0, 0.0, seats=inst.bus_capacity)
        for d, count in enumerate(inst.buses_per_depot) for k in range(count)
    ]
    depot_of = [d for d, count in enumerate(inst.buses_per_depot) for _ in range(count)]
    households: list[Household] = []
    ap_of: list[int] = []  # the AP of each household
    for a, people in enumerate(inst.demand):
        loads = [inst.bus_capacity] * (people // inst.bus_capacity) + [people % inst.bus_capacity]
        loads = [x for x in loads if x > 0] if per_bus_load else [people] * (people > 0)
        for k, load in enumerate(loads):
            hid = f"AP{a + 1}.{k + 1}" if per_bus_load else f"AP{a + 1}"
            households.append(Household(hid, 0.0, 0.0, people=load, max_ride_minutes=UNBOUNDED_MINUTES))
            ap_of.append(a)
    shelters = [Shelter(f"S{s + 1}", 0.0, 0.0, capacity=c) for s, c in enumerate(inst.shelter_capacity)]
    refs = (
        [LocationRef("driver", d.id) for d in drivers]
        + [LocationRef("household", h.id) for h in households]
        + [LocationRef("shelter", s.id) for s in shelters]
    )
    n_d, n_h = len(drivers), len(households)
    homes = slice(n_d, n_d + n_h)
    minutes = np.full((len(refs), len(refs)), math.inf)
    minutes[homes, homes] = np.where(np.equal.outer(ap_of, ap_of), 0.0, math.inf)
    np.fill_diagonal(minutes, 0.0)
    minutes[:n_d, homes] = inst.depot_to_ap_minutes[np.ix_(depot_of, ap_of)]
    ap_shelter = inst.ap_to_shelter_minutes[ap_of]
    minutes[homes, n_d + n_h:] = ap_shelter
    minutes[n_d + n_h:, homes] = ap_shelter.T
    return Problem(
        name=inst.name,
        households=tuple(households),
        drivers=tuple(drivers),
        shelters=tuple(shelters),
        alert=Alert(deadline_minutes=UNBOUNDED_MINUTES),
        travel=TravelTimes(tuple(refs), minutes),
        service=ServiceMinutes(pickup=0.0, dropoff=0.0),
    )


def reference_values(path: Path | None = None) -> dict[str, float]:
    """Best known evacuation time per random instance (CPLEX or GRASP, whichever is lower)."""
    path = path or BEP_DIR / "reference_values_rand.csv"
    with path.open(newline="") as f:
        return {row["instance"]: float(row["reference_value"]) for row in csv.DictReader(f) if row["reference_value"]}


def instance_files(root: Path | None = None, sets: tuple[str, ...] = ("rand", "real")) -> list[Path]:
    """The instance files, random ones first, in a stable order (by size, then instance number)."""
    root = root or BEP_DIR

    def key(p: Path) -> tuple[int, ...]:
        parts = p.stem.split("-")
        return tuple(int(x.lstrip("i")) for x in parts[1:])

    return [p for s in sets for p in sorted((root / s).glob("*.txt"), key=key)]
