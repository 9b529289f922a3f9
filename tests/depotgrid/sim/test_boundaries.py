"""Architecture rules, checked by walking imports: sim never imports manage; domain modules
import no FastAPI, SQLAlchemy or httpx."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import depotgrid.sim

SIM_ROOT = Path(depotgrid.sim.__file__).parent
DOMAIN_MODULES = [
    "depotgrid.sim.runtime.clock",
    "depotgrid.sim.runtime.run",
    "depotgrid.sim.runtime.world",
    "depotgrid.sim.configuration.model",
    "depotgrid.sim.scenarios.overrides",
    "depotgrid.sim.scenarios.presets",
    "depotgrid.sim.scenarios.expectations",
    "depotgrid.sim.scenarios.forecasts",
    "depotgrid.sim.projections.oscp_cp.session",
    "depotgrid.sim.projections.oscp_cp.inbound",
]
EDGE_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "httpx", "uvicorn")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _sim_sources() -> list[Path]:
    return sorted(SIM_ROOT.rglob("*.py"))


def test_no_sim_source_imports_manage() -> None:
    offenders = {
        str(path.relative_to(SIM_ROOT)): sorted(
            m for m in _imports(path) if m.startswith("depotgrid.manage")
        )
        for path in _sim_sources()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_sim_module_loads_no_manage_module() -> None:
    names = [m.name for m in pkgutil.walk_packages(depotgrid.sim.__path__, "depotgrid.sim.")]
    names = [n for n in names if ".db.migrations" not in n]
    assert "depotgrid.sim.app" in names and len(names) > 30
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.startswith('depotgrid.manage'))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_modules_use_no_web_database_or_http_library() -> None:
    for name in DOMAIN_MODULES:
        module = importlib.import_module(name)
        assert module.__file__ is not None
        used = {m for m in _imports(Path(module.__file__)) if m.split(".")[0] in EDGE_LIBRARIES}
        assert used == set(), (name, used)
        assert module.__doc__ and "§" in module.__doc__, (
            f"{name} should say which spec section it implements"
        )
