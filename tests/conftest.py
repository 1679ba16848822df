from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from perfxl.forms import get_spec
from perfxl.template import render_template

# CI replays a fixed set of examples (a red CI lands nothing, so it must not depend on luck);
# locally every run draws new ones, which is where new bugs are found.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers: seed, lo, bad_samples


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
