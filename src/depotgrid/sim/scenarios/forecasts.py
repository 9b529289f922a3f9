"""Forecast plans: controlled UpdateGroupCapacityForecast content (design §3 OscpForecastPlan,
§9 "Forecast Publication"; issue: "step down, step up, gap, fallback blocks").

A plan either lists its blocks explicitly or describes a profile that is turned into blocks at
send time (logical), so a repeating plan sends fresh blocks each time:

    profile: capacity C, unit, phase, block_minutes m, block_count n, start (default: the send
             time rounded down to a block boundary)
    variation:
      none       n blocks of C
      step_down  blocks from `at_block` on carry `capacity` (< C): the limit drops
      step_up    blocks from `at_block` on carry `capacity` (> C): the limit rises
      gap        `gap_blocks` blocks from `at_block` are left out: a hole in the forecast
      fallback   the same blocks, sent as FALLBACK_CONSUMPTION / FALLBACK_GENERATION

`blocks_for` is pure; it returns blocks the OSCP models accept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from depotgrid.oscp.enums import CapacityForecastType, ForecastedBlockUnit, PhaseIndicator
from depotgrid.oscp.messages import ForecastedBlock

_FALLBACK = {
    CapacityForecastType.CONSUMPTION: CapacityForecastType.FALLBACK_CONSUMPTION,
    CapacityForecastType.GENERATION: CapacityForecastType.FALLBACK_GENERATION,
}


class VariationKind(StrEnum):
    NONE = "none"
    STEP_DOWN = "step_down"
    STEP_UP = "step_up"
    GAP = "gap"
    FALLBACK = "fallback"


class Variation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: VariationKind = VariationKind.NONE
    at_block: int = Field(default=1, ge=0, le=1000)
    capacity: float | None = Field(default=None, ge=0)
    gap_blocks: int = Field(default=1, ge=1, le=1000)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity: float = Field(ge=0)
    unit: ForecastedBlockUnit = ForecastedBlockUnit.KW
    phase: PhaseIndicator = PhaseIndicator.ALL
    block_minutes: int = Field(default=15, ge=1, le=1440)
    block_count: int = Field(default=4, ge=1, le=672)
    start: AwareDatetime | None = None
    variation: Variation = Variation()

    @model_validator(mode="after")
    def _variation_fits(self) -> Self:
        variation = self.variation
        if variation.kind in (VariationKind.STEP_DOWN, VariationKind.STEP_UP):
            if variation.capacity is None:
                raise ValueError(f"variation {variation.kind} needs variation.capacity")
            if variation.kind is VariationKind.STEP_DOWN and variation.capacity >= self.capacity:
                raise ValueError("step_down needs variation.capacity below capacity")
            if variation.kind is VariationKind.STEP_UP and variation.capacity <= self.capacity:
                raise ValueError("step_up needs variation.capacity above capacity")
        if variation.kind is not VariationKind.NONE and variation.at_block >= self.block_count:
            raise ValueError("variation.at_block must be below block_count")
        if variation.kind is VariationKind.GAP and (
            variation.at_block == 0 or variation.at_block + variation.gap_blocks >= self.block_count
        ):
            raise ValueError("a gap must leave at least one block before and after it")
        return self


def forecast_type(base: CapacityForecastType, profile: Profile | None) -> CapacityForecastType:
    """The type a plan is sent as: FALLBACK_* for the fallback variation."""
    if profile is not None and profile.variation.kind is VariationKind.FALLBACK:
        return _FALLBACK.get(base, base)
    return base


def blocks_for(profile: Profile, send_at: datetime) -> list[ForecastedBlock]:
    """The blocks of `profile` for a forecast sent at logical time `send_at`."""
    length = timedelta(minutes=profile.block_minutes)
    start = profile.start or _floor(send_at, length)
    variation = profile.variation
    blocks: list[ForecastedBlock] = []
    for index in range(profile.block_count):
        if (
            variation.kind is VariationKind.GAP
            and variation.at_block <= index < variation.at_block + variation.gap_blocks
        ):
            continue
        capacity = profile.capacity
        if (
            variation.kind in (VariationKind.STEP_DOWN, VariationKind.STEP_UP)
            and index >= variation.at_block
            and variation.capacity is not None
        ):
            capacity = variation.capacity
        blocks.append(
            ForecastedBlock(
                capacity=capacity,
                phase=profile.phase,
                unit=profile.unit,
                start_time=start + index * length,
                end_time=start + (index + 1) * length,
            )
        )
    return blocks


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = (moment - epoch) // step
    return epoch + steps * step
