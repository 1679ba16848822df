"""Tables longer than a worksheet can hold: the full table as CSV beside the workbook."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def spill_csv(out: Path, name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """`<workbook stem>_<sheet>.csv` beside the workbook (UTF-8 with BOM, as Excel opens it),
    written to a temporary name first; links become their text."""
    path = out.with_name(f"{out.stem}_{name}.csv")
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(headers))
        for row in rows:
            w.writerow([v[1] if isinstance(v, tuple) else ("" if v is None else v) for v in row])
    os.replace(tmp, path)
    return path
