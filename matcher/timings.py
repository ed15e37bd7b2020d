"""Wall-clock split of a command by stage, for ``evac plan --timings`` (reporting only; no result depends on it)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


def process_start() -> float:
    """``time.perf_counter()`` value at which this process started (Linux ``/proc``), else now.

    Counting from the process start, not from the first line of ``main``, puts the interpreter's
    start-up and the imports into the split, so the stages add up to what ``/usr/bin/time`` shows.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            # The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter()
    age = max(0.0, uptime - start_ticks / ticks)
    return time.perf_counter() - age


@dataclass
class Stopwatch:
    """Consecutive stages: ``lap(name)`` closes the stage that ran since the previous lap.

    The stages cover the time from ``started`` without gaps, so they sum to ``total()``.
    """

    started: float = field(default_factory=time.perf_counter)
    laps: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._last = self.started

    def lap(self, name: str) -> float:
        """Record the stage ``name`` as ending now; its seconds. A repeated name adds to the earlier entry."""
        now = time.perf_counter()
        seconds = now - self._last
        self._last = now
        for i, (known, before) in enumerate(self.laps):
            if known == name:
                self.laps[i] = (known, before + seconds)
                break
        else:
            self.laps.append((name, seconds))
        return seconds

    def total(self) -> float:
        """Seconds from ``started`` to the last lap."""
        return self._last - self.started

    def lines(self) -> list[str]:
        """One line per stage with seconds and share, then the total."""
        total = self.total() or 1.0
        width = max((len(name) for name, _ in self.laps), default=5)
        out = [f"  {name:<{width}}  {seconds:6.2f} s  {100 * seconds / total:5.1f}%" for name, seconds in self.laps]
        out.append(f"  {'total':<{width}}  {self.total():6.2f} s")
        return out


def null_lap(_name: str) -> float:
    """A lap callback that records nothing (the library default)."""
    return 0.0
