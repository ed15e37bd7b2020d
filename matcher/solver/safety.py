"""The far safety stop of a search: a bound on its seconds that a search on a sound machine never reaches.

The service bounds the wall clock (an answer in time). A drill bounds this process's CPU seconds, so that other
programs on the machine do not move it and a seed repeats under load. OR-Tools only knows the wall clock: a
drill's OR-Tools calls get a wall-clock limit ``CPU_WALL_FACTOR`` times the CPU seconds left, and the CPU stop is
checked at each of their solutions. Whatever cut a search is recorded in ``hit``, so the caller can say so
instead of silently giving another answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: A drill's OR-Tools call may run this many times the CPU seconds left, on the wall clock. A paused or starved
#: process sees many wall seconds per CPU second (measured here: about 3 at load 12 on 2 cores); before this
#: factor, OR-Tools' limit was the CPU seconds left, and a drill at load 20-25 was cut there without knowing.
CPU_WALL_FACTOR = 30.0


@dataclass
class SafetyStop:
    """``deadline`` on ``clock`` (CPU seconds of this process when ``cpu``, else the wall clock)."""

    clock: Callable[[], float]
    deadline: float
    cpu: bool = False
    #: The stop cut something (a round not started, an OR-Tools call ended early).
    hit: bool = False

    @classmethod
    def start(cls, seconds: float, cpu: bool) -> SafetyStop:
        """A stop ``seconds`` from now."""
        clock = time.process_time if cpu else time.perf_counter
        return cls(clock, clock() + seconds, cpu)

    def reached(self) -> bool:
        """Whether the stop is reached (recorded in ``hit``)."""
        if not self.hit and self.clock() >= self.deadline:
            self.hit = True
        return self.hit

    def wall_seconds(self) -> float:
        """OR-Tools' wall-clock limit for one call from now (see the module)."""
        return max(0.0, self.deadline - self.clock()) * (CPU_WALL_FACTOR if self.cpu else 1.0)
