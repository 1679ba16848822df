"""Imported once by the check workers' fork server: load everything a check loads lazily
(pandas, pandera, the readers) by checking a blank template, so that each upload's worker,
forked from that server, starts warm and single-threaded."""

from __future__ import annotations

import tempfile
from pathlib import Path


def _warm() -> None:
    from perfxl.check import check_paths
    from perfxl.forms import get_spec
    from perfxl.template import render_template

    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("dept", "project"):
            path = Path(tmp) / f"{kind}.xlsx"
            path.write_bytes(render_template(get_spec(kind), 2024))
            check_paths([path], year=2024)


_warm()
