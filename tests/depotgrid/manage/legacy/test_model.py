"""Invariants of the legacy model, as plain Python (no database)."""

import pytest

from depotgrid.manage.errors import ValidationFailed
from depotgrid.manage.legacy.model import (
    Charger,
    Circuit,
    Depot,
    PowerSource,
    PowerSourceKind,
    check_charger,
    check_circuit,
    check_depot,
    check_parent,
    is_timezone,
    snapshot,
)


def _circuit(cid: str, parent: str | None, depot: str = "d1", rating: float = 100) -> Circuit:
    return Circuit(cid, depot, cid, parent, rating, rating, rating)


def _fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_timezones_must_be_iana_names() -> None:
    assert is_timezone("Europe/London")
    assert not is_timezone("GMT+25")
    assert not is_timezone("../etc/passwd")
    with pytest.raises(ValidationFailed) as exc:
        check_depot(Depot("d", "Depot", "Not/AZone"))
    assert _fields(exc) == {"timezone"}


def test_reparenting_under_a_descendant_is_a_cycle() -> None:
    tree = {"a": None, "b": "a", "c": "b"}
    moved = _circuit("a", "c")
    with pytest.raises(ValidationFailed, match="cycle"):
        check_parent(moved, _circuit("c", "b"), tree)


def test_a_circuit_cannot_be_its_own_parent() -> None:
    with pytest.raises(ValidationFailed, match="cycle"):
        check_parent(_circuit("a", "a"), _circuit("a", None), {"a": None})


def test_parent_must_be_in_the_same_depot() -> None:
    with pytest.raises(ValidationFailed, match="another depot"):
        check_parent(_circuit("a", "x"), _circuit("x", None, depot="d2"), {"a": None})


def test_moving_to_another_branch_is_fine() -> None:
    tree = {"a": None, "b": "a", "c": "a"}
    check_parent(_circuit("c", "b"), _circuit("b", "a"), tree)


def test_capacity_errors_are_reported_together() -> None:
    circuit = Circuit("c", "d", "", None, -5, 10, -1)
    with pytest.raises(ValidationFailed) as exc:
        check_circuit(circuit)
    assert _fields(exc) == {
        "name",
        "max_capacity_kw",
        "available_capacity_kw",
        "safe_default_capacity_kw",
    }


def test_charger_minimum_cannot_exceed_maximum() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_charger(Charger("x", "d", "c", "C", "ID", max_power_kw=10, min_power_kw=20))
    assert _fields(exc) == {"min_power_kw"}


def test_snapshot_is_json_ready() -> None:
    source = PowerSource("p", "d", None, PowerSourceKind.BATTERY, 10.0)
    assert snapshot(source)["kind"] == "BATTERY"
    assert snapshot(Depot("d", "D", "UTC", version=3)) == {
        "id": "d",
        "name": "D",
        "timezone": "UTC",
    }
