"""The code stays formatted, linted and typed: the same commands as in the README, run in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [["ruff", "format", "--check", "."], ["ruff", "check", "."], [sys.executable, "-m", "mypy"]],
    ids=["ruff-format", "ruff-check", "mypy"],
)
def test_clean(command: list[str]) -> None:
    exe = (
        command[0] if command[0] == sys.executable else shutil.which(command[0], path=str(Path(sys.executable).parent))
    )
    assert exe, f"{command[0]} is installed with the test extra"
    r = subprocess.run([exe, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
