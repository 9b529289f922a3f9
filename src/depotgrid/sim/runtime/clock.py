"""The logical clock of one simulation run (design §3 SimulationRun, §4 "logical time moves
forward only").

A run's logical time is a pure function of the wall time the edge passes in:

    logical(wall) = anchor_logical + max(0, wall - anchor_wall) * speed   while running
    logical(wall) = anchor_logical                                        otherwise

Every command that changes the pace (start, pause, resume, speed, tick) re-anchors at the current
wall time, so logical time is continuous and never moves backwards: `max(0, ...)` absorbs a wall
clock that steps back, a tick only adds, and the speed factor is positive. Because the anchor is
persisted, a restarted process computes the same logical time the dead one would have (time keeps
passing while the process is down, which is what lets timers expire across a restart, §10).

`RunTimeSource` adapts a run clock to `depotgrid.common.clock.Clock`, so code that asks a Clock
for "now" gets logical time without reading the wall.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from depotgrid.common.clock import Clock

MIN_SPEED = 0.01
MAX_SPEED = 3600.0


class ClockError(ValueError):
    """A clock change that would break "logical time only moves forward"."""


@dataclass(frozen=True)
class RunClock:
    anchor_wall: datetime
    anchor_logical: datetime
    speed: float
    running: bool

    def __post_init__(self) -> None:
        if self.anchor_wall.tzinfo is None or self.anchor_logical.tzinfo is None:
            raise ClockError("clock anchors must be timezone-aware")
        check_speed(self.speed)

    def logical_at(self, wall: datetime) -> datetime:
        """The run's logical time at wall time `wall`."""
        if not self.running:
            return self.anchor_logical
        elapsed = max(0.0, (wall - self.anchor_wall).total_seconds())
        return self.anchor_logical + timedelta(seconds=elapsed * self.speed)

    def wall_at(self, logical: datetime) -> datetime | None:
        """When (wall) logical time `logical` is reached; None if the clock is not running."""
        if not self.running:
            return None
        ahead = max(0.0, (logical - self.anchor_logical).total_seconds())
        return self.anchor_wall + timedelta(seconds=ahead / self.speed)

    def reanchored(
        self, wall: datetime, *, running: bool | None = None, speed: float | None = None
    ) -> RunClock:
        """The same timeline from `wall` on, optionally paused, resumed or at a new speed."""
        return replace(
            self,
            anchor_wall=wall,
            anchor_logical=self.logical_at(wall),
            running=self.running if running is None else running,
            speed=self.speed if speed is None else speed,
        )

    def advanced(self, wall: datetime, seconds: float) -> RunClock:
        """Jump logical time forward by `seconds` (a tick)."""
        if not seconds > 0:
            raise ClockError("a tick must move logical time forward by more than 0 seconds")
        here = self.reanchored(wall)
        return replace(here, anchor_logical=here.anchor_logical + timedelta(seconds=seconds))


def check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ClockError(f"speed factor must be between {MIN_SPEED} and {MAX_SPEED}")


class RunTimeSource:
    """A `Clock` reading one run's logical time from a wall clock."""

    def __init__(self, clock: RunClock, wall: Clock) -> None:
        self._clock = clock
        self._wall = wall

    def now(self) -> datetime:
        return self._clock.logical_at(self._wall.now())
