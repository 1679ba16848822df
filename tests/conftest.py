from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perfxl.forms import get_spec
from perfxl.template import render_template


@pytest.fixture(scope="session")
def template_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two blank 2024 templates, rendered once per session."""
    out = tmp_path_factory.mktemp("templates")
    paths = {}
    for kind in ("dept", "project"):
        p = out / f"{kind}.xlsx"
        p.write_bytes(render_template(get_spec(kind), 2024))
        paths[kind] = p
    return paths
