"""templates_xlsx/ holds what the current code writes (regenerate: see README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfxl.forms import KINDS, get_spec
from perfxl.template import render_template, template_filename

DIR = Path(__file__).resolve().parents[1] / "templates_xlsx"


@pytest.mark.parametrize("kind", KINDS)
def test_committed_template_is_current(kind: str) -> None:
    spec = get_spec(kind)
    path = DIR / template_filename(spec, 2024)
    assert path.exists(), f"missing {path}; run: perfxl template --year 2024 -o templates_xlsx"
    assert path.read_bytes() == render_template(spec, 2024), (
        f"{path.name} is stale; run: perfxl template --year 2024 -o templates_xlsx"
    )


def test_nothing_else_in_the_folder() -> None:
    assert sorted(p.name for p in DIR.iterdir()) == sorted(template_filename(get_spec(k), 2024) for k in KINDS)
