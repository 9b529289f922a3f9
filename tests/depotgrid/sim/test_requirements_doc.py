"""docs/oscp-sim-requirements.md lists every override mode, and each scenario it names has a
test that exists."""

from __future__ import annotations

import re
from pathlib import Path

from depotgrid.sim.scenarios.overrides import OverrideMode

DOC = Path(__file__).resolve().parents[3] / "docs" / "oscp-sim-requirements.md"
TESTS = Path(__file__).parent


def test_every_mode_is_documented_and_every_named_test_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    for mode in OverrideMode:
        assert f"| `{mode.value}` |" in text, mode
    named = re.findall(r"`(test_[a-z_]+\.py)::(test_[a-z0-9_]+)`", text)
    assert len(named) >= len(OverrideMode)
    for file_name, test_name in named:
        source = (TESTS / file_name).read_text(encoding="utf-8")
        assert f"def {test_name}(" in source, (file_name, test_name)
