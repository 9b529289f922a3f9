"""The run state machine (design §3 SimulationRun, §4 Simulation Run Aggregate, §6 events).

    created --start--> running --pause--> paused --resume--> running
    created | running | paused --stop--> stopped (final)

`tick` jumps logical time forward in any state but stopped (created and paused runs included:
tests step a frozen world). `set_speed` re-anchors the clock. Each command takes the wall time
from the caller and returns the new run and the events it produced; an impossible command
raises `RunTransitionError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from depotgrid.sim.runtime.clock import ClockError, RunClock, check_speed

MAX_TICK_SECONDS = 7 * 24 * 3600.0


class RunState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class RunCommand(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    TICK = "tick"


class RunTransitionError(ValueError):
    """The command is not possible in the run's current state."""


@dataclass(frozen=True)
class RunEvent:
    event_type: str
    data: dict[str, Any]
    logical_at: datetime


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    configuration_id: str
    configuration_version: int
    state: RunState
    clock: RunClock
    tick_seconds: float
    version: int

    def logical_at(self, wall: datetime) -> datetime:
        return self.clock.logical_at(wall)


_ALLOWED: dict[RunCommand, frozenset[RunState]] = {
    RunCommand.START: frozenset({RunState.CREATED}),
    RunCommand.PAUSE: frozenset({RunState.RUNNING}),
    RunCommand.RESUME: frozenset({RunState.PAUSED}),
    RunCommand.STOP: frozenset({RunState.CREATED, RunState.RUNNING, RunState.PAUSED}),
    RunCommand.TICK: frozenset({RunState.CREATED, RunState.RUNNING, RunState.PAUSED}),
}

_EVENTS: dict[RunCommand, str] = {
    RunCommand.START: "SimulationRunStarted",
    RunCommand.PAUSE: "SimulationRunPaused",
    RunCommand.RESUME: "SimulationRunUnpaused",
    RunCommand.STOP: "SimulationRunStopped",
    RunCommand.TICK: "SimulationRunTicked",
}


def apply_command(
    run: Run, command: RunCommand, wall: datetime, *, seconds: float | None = None
) -> tuple[Run, list[RunEvent]]:
    """Apply one command at wall time `wall`; RunTransitionError if it is not allowed."""
    if run.state not in _ALLOWED[command]:
        allowed = ", ".join(sorted(s.value for s in _ALLOWED[command]))
        raise RunTransitionError(
            f"cannot {command.value} a run that is {run.state.value} (allowed from: {allowed})"
        )
    before = run.logical_at(wall)
    data: dict[str, Any] = {"from_state": run.state.value}
    if command is RunCommand.TICK:
        step = run.tick_seconds if seconds is None else seconds
        if not 0 < step <= MAX_TICK_SECONDS:
            raise RunTransitionError(f"tick seconds must be in (0, {MAX_TICK_SECONDS:g}]")
        clock = run.clock.advanced(wall, step)
        state = run.state
        data["seconds"] = step
    else:
        state = {
            RunCommand.START: RunState.RUNNING,
            RunCommand.PAUSE: RunState.PAUSED,
            RunCommand.RESUME: RunState.RUNNING,
            RunCommand.STOP: RunState.STOPPED,
        }[command]
        clock = run.clock.reanchored(wall, running=state is RunState.RUNNING)
    after = replace(run, state=state, clock=clock, version=run.version + 1)
    data["to_state"] = state.value
    data["logical_time_before"] = before.isoformat()
    event = RunEvent(_EVENTS[command], data, after.logical_at(wall))
    return after, [event]


def set_speed(run: Run, speed: float, wall: datetime) -> tuple[Run, list[RunEvent]]:
    """Change the speed factor from now on; logical time stays continuous."""
    if run.state is RunState.STOPPED:
        raise RunTransitionError("cannot change the speed of a stopped run")
    try:
        check_speed(speed)
    except ClockError as exc:
        raise RunTransitionError(str(exc)) from None
    after = replace(run, clock=run.clock.reanchored(wall, speed=speed), version=run.version + 1)
    event = RunEvent(
        "SimulationRunSpeedChanged",
        {"from": run.clock.speed, "to": speed},
        after.logical_at(wall),
    )
    return after, [event]
