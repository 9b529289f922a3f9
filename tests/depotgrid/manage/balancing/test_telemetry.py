"""Telemetry per circuit: measured, derived from child meters, fail-safe, or unmetered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import FAIL_SAFE_METER_STALE, FALLBACK_DERIVED_TELEMETRY
from depotgrid.manage.balancing.telemetry import CircuitLink, Reading, SourceMode, assess

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = BalancingPolicy()
TREE = [CircuitLink("grid", None), CircuitLink("a", "grid"), CircuitLink("b", "grid")]
CHARGERS = {"ca": "a", "cb": "b", "cg": "grid"}
DRAW = {"ca": 10.0, "cb": 5.0, "cg": 2.0}


def ago(seconds: float, kw: float) -> Reading:
    return Reading(NOW - timedelta(seconds=seconds), kw)


def test_a_fresh_reading_is_measured_and_uncontrolled_load_is_what_chargers_do_not_draw() -> None:
    t = assess(TREE, {"grid": ago(10, 50.0)}, CHARGERS, DRAW, POLICY, NOW)["grid"]
    assert t.mode is SourceMode.MEASURED and t.reason is None
    assert t.load_kw == 50.0
    assert t.chargers_under_kw == 17.0
    assert t.uncontrolled_kw == 33.0
    assert t.reading_age_seconds == 10.0 and t.stale_after_seconds == 60.0


def test_uncontrolled_load_never_goes_below_zero() -> None:
    t = assess(TREE, {"grid": ago(10, 5.0)}, CHARGERS, DRAW, POLICY, NOW)["grid"]
    assert t.uncontrolled_kw == 0.0


def test_a_stale_meter_with_fresh_child_meters_is_derived_with_a_margin() -> None:
    latest = {"grid": ago(120, 20.0), "a": ago(5, 30.0), "b": ago(5, 10.0)}
    t = assess(TREE, latest, CHARGERS, DRAW, POLICY, NOW)["grid"]
    assert t.mode is SourceMode.FALLBACK_DERIVED
    assert t.reason == FALLBACK_DERIVED_TELEMETRY
    assert t.derived_load_kw == pytest.approx((30 + 10 + 2) * 1.1)
    assert t.load_kw == pytest.approx(46.2)
    assert t.uncontrolled_kw == pytest.approx(46.2 - 17)
    assert [(c.circuit_id, c.load_kw) for c in t.children] == [("a", 30.0), ("b", 10.0)]
    assert "derived" in t.explanation and "10 % margin" in t.explanation


def test_a_derived_load_is_never_below_the_last_reading() -> None:
    latest = {"grid": ago(120, 90.0), "a": ago(5, 30.0), "b": ago(5, 10.0)}
    t = assess(TREE, latest, CHARGERS, DRAW, POLICY, NOW)["grid"]
    assert t.mode is SourceMode.FALLBACK_DERIVED and t.load_kw == 90.0


def test_a_stale_leaf_circuit_cannot_be_derived_and_fails_safe() -> None:
    t = assess(TREE, {"a": ago(61, 30.0)}, CHARGERS, DRAW, POLICY, NOW)["a"]
    assert t.mode is SourceMode.FAIL_SAFE
    assert t.reason == FAIL_SAFE_METER_STALE
    assert t.load_kw == 30.0, "missing is never read as zero: the last reading stays a floor"
    assert "no child circuits" in t.explanation


def test_a_stale_parent_with_an_unmetered_child_fails_safe_naming_the_child() -> None:
    latest = {"grid": ago(120, 20.0), "a": ago(5, 30.0)}
    t = assess(TREE, latest, CHARGERS, DRAW, POLICY, NOW)["grid"]
    assert t.mode is SourceMode.FAIL_SAFE
    assert t.untrusted_children == ("b",)


def test_a_circuit_without_any_reading_is_unmetered_and_sums_what_is_under_it() -> None:
    result = assess(TREE, {"a": ago(5, 30.0)}, CHARGERS, DRAW, POLICY, NOW)
    assert result["b"].mode is SourceMode.UNMETERED
    assert result["b"].uncontrolled_kw == 0.0
    grid = result["grid"]
    assert grid.mode is SourceMode.UNMETERED
    assert grid.load_kw == 30.0 + 5.0 + 2.0
    assert grid.uncontrolled_kw == pytest.approx(20.0), "the child's uncontrolled load counts"


def test_the_threshold_is_inclusive_and_readings_slightly_ahead_count_as_fresh() -> None:
    at_limit = assess(TREE, {"a": ago(60, 1.0)}, CHARGERS, DRAW, POLICY, NOW)["a"]
    ahead = assess(TREE, {"a": ago(-2, 1.0)}, CHARGERS, DRAW, POLICY, NOW)["a"]
    assert at_limit.mode is SourceMode.MEASURED
    assert ahead.mode is SourceMode.MEASURED and ahead.reading_age_seconds == 0.0


def test_going_stale_never_lowers_any_load_estimate() -> None:
    """The same readings, an hour older: every estimate stays or rises, so headroom never grows."""
    latest = {"grid": ago(10, 20.0), "a": ago(10, 30.0), "b": ago(10, 12.0)}
    fresh = assess(TREE, latest, CHARGERS, DRAW, POLICY, NOW)
    later = assess(TREE, latest, CHARGERS, DRAW, POLICY, NOW + timedelta(hours=1))
    for circuit_id, before in fresh.items():
        assert later[circuit_id].load_kw >= before.load_kw
        assert later[circuit_id].uncontrolled_kw >= before.uncontrolled_kw


def test_a_stale_meter_keeps_the_uncontrolled_load_its_reading_showed_when_first_used() -> None:
    """The floor is carried: chargers changing setpoint while the meter is blind don't move it."""
    reading = ago(120, 30.0)
    carried = {"a": (reading.timestamp, 5.0)}
    t = assess(TREE, {"a": reading}, CHARGERS, DRAW, POLICY, NOW, floors=carried)["a"]
    assert (t.floor_kw, t.floor_carried, t.uncontrolled_kw) == (5.0, True, 5.0)
    assert t.carry == (reading.timestamp, 5.0)
    assert "first used" in t.explanation


def test_a_floor_carried_for_an_older_reading_is_not_used() -> None:
    reading = ago(120, 30.0)
    carried = {"a": (reading.timestamp - timedelta(seconds=10), 5.0)}
    t = assess(TREE, {"a": reading}, CHARGERS, DRAW, POLICY, NOW, floors=carried)["a"]
    assert (t.floor_kw, t.floor_carried) == (20.0, False)


def test_a_measured_circuit_carries_the_uncontrolled_load_it_measured() -> None:
    reading = ago(5, 30.0)
    t = assess(TREE, {"a": reading}, CHARGERS, DRAW, POLICY, NOW)["a"]
    assert t.carry == (reading.timestamp, 20.0)
