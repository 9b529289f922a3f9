"""docs/reason-codes.md lists every reason code and the precedence the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from depotgrid.manage.balancing import reasons
from depotgrid.manage.balancing.telemetry import SourceMode

DOC = Path(__file__).resolve().parents[4] / "docs" / "reason-codes.md"


def _codes() -> set[str]:
    return {
        value
        for name, value in vars(reasons).items()
        if name.isupper() and isinstance(value, str) and value.isupper()
    }


def test_every_code_and_telemetry_mode_is_documented() -> None:
    text = DOC.read_text()
    listed = _codes() | {mode.value for mode in SourceMode}
    missing = {code for code in listed if not re.search(rf"`[A-Z_:]*\b{code}\b", text)}
    assert missing == set()


def test_the_documented_node_precedence_is_the_one_the_code_uses() -> None:
    section = DOC.read_text().split("## Node-level codes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| \d+ \| `([A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert tuple(documented) == reasons.NODE_PRECEDENCE


def test_the_documented_breach_rule_order_is_the_one_the_code_uses() -> None:
    section = DOC.read_text().split("## Breach causes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| \d+ \| `([A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert tuple(documented) == reasons.BREACH_CAUSES


def test_every_code_has_a_sentence_for_the_ui() -> None:
    assert {reasons.base_code(code) for code in _codes()} <= set(reasons.DESCRIPTIONS)
