"""Run tests/lo/probe.py under Debian's python3 (the one that imports `uno`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).resolve().parent / "lo" / "probe.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def available() -> bool:
    if not shutil.which("soffice"):
        return False
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True)
    return r.returncode == 0


def require() -> None:
    """Skip locally without LibreOffice; in CI its absence is a failure."""
    if available():
        return
    if os.environ.get("CI"):
        pytest.fail("LibreOffice (soffice + python3-uno) is required in CI; .ci/run installs it")
    pytest.skip("LibreOffice (soffice + python3-uno) not installed")


def probe(file: Path, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    require()
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.json"
        out = Path(tmp) / "out.json"
        plan.write_text(json.dumps({"file": str(file), "steps": steps, **extra}, ensure_ascii=False), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        deaths: list[str] = []  # what each LibreOffice that went away said last (for the failure message)
        for attempt in range(5):
            if attempt:
                time.sleep(2 * attempt)  # let the dead soffice release its pipe and profile first
            r = subprocess.run(
                [SYSTEM_PYTHON, str(PROBE), str(plan), str(out)], capture_output=True, text=True, timeout=240, env=env
            )
            # headless soffice occasionally dies right after refusing an edit (its error
            # box cannot show): that is LibreOffice going away, not a result, so run again
            # (the UNO bridge reports it as DisposedException, "bridge disposed", or a document
            # whose properties are suddenly gone: any UNO exception); a real failure fails every
            # time. A CI run saw three deaths in a row on one probe: five tries, with a pause
            if r.returncode == 0 or not re.search(r"DisposedException|bridge disposed|com\.sun\.star\.", r.stderr):
                break
            deaths.append(f"attempt {attempt + 1} at {time.strftime('%H:%M:%S')}: {r.stderr.strip()[-400:]}")
        assert r.returncode == 0, "\n\n".join([*deaths[:-1], r.stderr[-3000:]])
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result
