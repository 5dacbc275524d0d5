"""The layer table of docs/architecture.md, as import-linter contracts (pyproject.toml):
they hold for the code as it is, and a deliberate back-import or cycle breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import ROOT

pytestmark = pytest.mark.server

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def run_contracts(root: Path) -> subprocess.CompletedProcess:
    """lint-imports over the streamchat package under ``root``, with ``root``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_every_contract():
    result = run_contracts(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A lower layer reaching up: budgets into the web layer.
        ("budgets/ledger.py", "import streamchat.web.api", "Layers"),
        # The per-chunk path reaching for settings.
        ("relay/ndjson.py", "import streamchat.settings", "per-chunk path"),
        # Two siblings of one layer importing each other.
        ("identity/throttle.py", "import streamchat.budgets", "Layers"),
        # Flask below the web layer.
        ("runs/run.py", "import flask", "Flask"),
        # A cycle inside a package.
        ("state/interface.py", "import streamchat.state.machine_state", "cycles"),
    ],
)
def test_a_back_import_breaks_a_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "streamchat", tmp_path / "streamchat")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "streamchat" / module, "a") as source:
        source.write(f"\n{line}  # noqa\n")
    result = run_contracts(tmp_path)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout
