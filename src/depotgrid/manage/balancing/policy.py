"""The knobs of a balancing cycle, with defaults documented in docs/reason-codes.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class BalancingPolicy:
    stale_after_seconds: float = 60.0
    """A circuit's latest meter reading older than this is stale (evcc's circuit timeout)."""

    breach_samples: int = 3
    """Consecutive readings above the cap in force that open a breach episode (k)."""

    breach_tolerance: float = 0.02
    """A reading is over the cap when it exceeds cap x (1 + tolerance)."""

    derived_margin_fraction: float = 0.1
    """Safety margin added to a load derived from child meters when a circuit's own is stale."""

    step_kw: float = 0.1
    """Setpoints are multiples of this: rounded down, the freed power handed out in order."""

    future_tolerance_seconds: float = 5.0
    """How far ahead of the clock a meter reading's timestamp may be (clock skew)."""

    recent_readings: int = 20
    """Readings per circuit loaded into a cycle: the breach check sees at most these new ones."""

    def __post_init__(self) -> None:
        if self.stale_after_seconds <= 0:
            raise ValueError("stale_after_seconds must be above zero")
        if self.breach_samples < 1:
            raise ValueError("breach_samples must be at least 1")
        if self.breach_tolerance < 0 or self.derived_margin_fraction < 0:
            raise ValueError("tolerances and margins must be zero or more")
        if self.step_kw <= 0:
            raise ValueError("step_kw must be above zero")
        if self.recent_readings < self.breach_samples:
            raise ValueError("recent_readings must be at least breach_samples")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_POLICY = BalancingPolicy()
