"""Scenario presets (design §5 "apply named scenario presets"): named sets of overrides.

Built-in presets: `connected_baseline` (no overrides) and one preset per override mode, named
after the mode, lasting one hour of logical time. A configuration may define more, or redefine
these names; its own definitions win.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from depotgrid.sim.scenarios.overrides import MODES, OverrideMode, OverrideSpec

BASELINE = "connected_baseline"


class ScenarioPreset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@/-]+$")
    description: str = Field(default="", max_length=500)
    overrides: list[OverrideSpec] = Field(default_factory=list, max_length=20)


def _builtin() -> dict[str, ScenarioPreset]:
    presets = {
        BASELINE: ScenarioPreset(
            name=BASELINE, description="Everything answers normally; no overrides."
        )
    }
    for mode in OverrideMode:
        presets[mode.value] = ScenarioPreset(
            name=mode.value,
            description=MODES[mode].forces,
            overrides=[OverrideSpec(mode=mode, duration_seconds=3600.0)],
        )
    return presets


BUILTIN_PRESETS: dict[str, ScenarioPreset] = _builtin()
