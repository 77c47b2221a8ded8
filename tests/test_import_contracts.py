"""The import contracts in pyproject.toml ([tool.importlinter]), checked by import-linter.

The core (``mingpt_lite``) never imports the lab (``mingpt_lab``), and the core's modules import each other
without circles. import-linter does the checking; this test only runs it inside ``make test``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_import_contracts_are_kept():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout
