"""The README is part of the product: its Quickstart is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_blocks() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)


def test_quickstart_has_exactly_two_shell_blocks() -> None:
    blocks = quickstart_blocks()
    assert len(blocks) == 2
    main, tests = blocks
    assert "python3 -m venv" in main and "perfxl merge samples/" in main
    assert "python3 -m venv" in tests and "pytest" in tests


def test_images_in_readme_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 8
    for rel in images:
        assert (ROOT / rel).is_file(), rel


def test_ci_runs_the_second_block() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "## Quickstart" in ci and "n==3" in ci
