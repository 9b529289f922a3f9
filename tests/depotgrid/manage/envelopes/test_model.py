"""The envelope rules as plain Python: status over time, write-through targets, supersession."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from depotgrid.manage.envelopes.model import (
    EnvelopeBlock,
    EnvelopeKind,
    EnvelopeStatus,
    OperatingEnvelope,
    capacity_target,
    check_blocks,
    next_boundary,
    superseded_by,
)
from depotgrid.manage.errors import ValidationFailed
from depotgrid.manage.legacy.model import CapacitySource, Circuit

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
H = timedelta(hours=1)


def _block(start: int, end: int, kw: float) -> EnvelopeBlock:
    return EnvelopeBlock(T0 + start * H, T0 + end * H, kw)


def _envelope(
    *blocks: EnvelopeBlock,
    kind: EnvelopeKind = EnvelopeKind.PRIMARY,
    eid: str = "e1",
    created: datetime = T0,
) -> OperatingEnvelope:
    return OperatingEnvelope(
        id=eid,
        microgrid_id="m",
        depot_id="d",
        scope_id="s",
        circuit_id="c",
        kind=kind,
        source_kind="MANUAL",
        source_reference="ref",
        blocks=tuple(blocks),
        status=EnvelopeStatus.SCHEDULED,
        created_at=created,
        status_changed_at=created,
    )


def _circuit(source: CapacitySource = CapacitySource.RATING, available: float = 500) -> Circuit:
    return Circuit(
        "c", "d", "Grid", None, 500.0, available, 200.0, available_capacity_source=source
    )


def test_status_follows_the_blocks_over_time() -> None:
    envelope = _envelope(_block(1, 2, 100), _block(3, 4, 50))
    assert envelope.status_at(T0) is EnvelopeStatus.SCHEDULED
    assert envelope.status_at(T0 + 1 * H) is EnvelopeStatus.ACTIVE
    assert envelope.status_at(T0 + 2.5 * H) is EnvelopeStatus.ACTIVE
    assert envelope.status_at(T0 + 4 * H) is EnvelopeStatus.EXPIRED
    withdrawn = envelope.moved_to(EnvelopeStatus.WITHDRAWN, T0)
    assert withdrawn.status_at(T0 + 1 * H) is EnvelopeStatus.WITHDRAWN


def test_block_in_force_sets_min_of_rating_and_block() -> None:
    envelope = _envelope(_block(0, 1, 120), _block(1, 2, 900))
    first = capacity_target(_circuit(), [envelope], T0)
    assert first is not None
    assert (first.available_capacity_kw, first.source, first.envelope_id) == (
        120,
        CapacitySource.ENVELOPE,
        "e1",
    )
    second = capacity_target(_circuit(), [envelope], T0 + 1 * H)
    assert second is not None and second.available_capacity_kw == 500


def test_gap_or_expiry_returns_an_envelope_set_circuit_to_its_safe_default() -> None:
    envelope = _envelope(_block(0, 1, 120), _block(2, 3, 90))
    in_gap = capacity_target(_circuit(CapacitySource.ENVELOPE, 120), [envelope], T0 + 1.5 * H)
    assert in_gap is not None
    assert (in_gap.available_capacity_kw, in_gap.source) == (200, CapacitySource.SAFE_DEFAULT)
    after = capacity_target(_circuit(CapacitySource.ENVELOPE, 90), [], T0 + 5 * H)
    assert after is not None and after.available_capacity_kw == 200


def test_a_circuit_the_envelope_path_never_set_is_left_alone() -> None:
    assert capacity_target(_circuit(CapacitySource.OPERATOR, 300), [], T0) is None
    assert capacity_target(_circuit(), [_envelope(_block(2, 3, 10))], T0) is None


def test_fallback_envelopes_never_apply_by_themselves() -> None:
    fallback = _envelope(_block(0, 1, 10), kind=EnvelopeKind.FALLBACK)
    assert capacity_target(_circuit(), [fallback], T0) is None


def test_newest_primary_wins_when_two_are_in_force() -> None:
    old = _envelope(_block(0, 2, 100), eid="old", created=T0)
    new = _envelope(_block(0, 2, 60), eid="new", created=T0 + timedelta(minutes=1))
    target = capacity_target(_circuit(), [new, old], T0)
    assert target is not None and target.envelope_id == "new"


def test_overlapping_same_kind_envelopes_are_superseded() -> None:
    old = _envelope(_block(0, 2, 100), eid="old")
    other_kind = _envelope(_block(0, 2, 100), eid="fb", kind=EnvelopeKind.FALLBACK)
    later = _envelope(_block(5, 6, 100), eid="later")
    new = _envelope(_block(1, 3, 50), eid="new")
    assert [e.id for e in superseded_by(new, [old, other_kind, later, new])] == ["old"]
    done = replace(old, status=EnvelopeStatus.WITHDRAWN)
    assert superseded_by(new, [done]) == []


@pytest.mark.parametrize(
    ("blocks", "field"),
    [
        ([], "blocks"),
        ([_block(2, 1, 10)], "blocks[0].end"),
        ([_block(0, 1, -5)], "blocks[0].max_import_kw"),
        ([_block(3, 5, 10), _block(0, 4, 10)], "blocks[0].start"),
        ([EnvelopeBlock(datetime(2026, 1, 1), datetime(2026, 1, 2), 1)], "blocks[0]"),
    ],
)
def test_bad_blocks_name_the_field(blocks: list[EnvelopeBlock], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_blocks(blocks)
    assert field in {e.field for e in exc.value.errors}


def test_blocks_come_back_in_time_order_and_boundaries_are_found() -> None:
    ordered = check_blocks([_block(2, 3, 1), _block(0, 1, 1)])
    assert [b.start for b in ordered] == [T0, T0 + 2 * H]
    envelope = _envelope(*ordered)
    assert next_boundary([envelope], T0) == T0 + 1 * H
    assert next_boundary([envelope], T0 + 3 * H) is None
