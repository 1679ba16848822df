"""Benchmark (not a test): template generation per copy, against a same-run baseline.

Usage: python bench/bench_templates.py [N]

Baseline: XlsxWriter writing the same cells as plain strings into an in-memory
workbook (no formats, validations, names or protection) — the floor for any
template writer built on XlsxWriter. Prints per-copy times and the ratio.
"""

from __future__ import annotations

import io
import sys
import time

import xlsxwriter

from perfxl.forms import get_spec
from perfxl.layout import build_layout
from perfxl.package import CopyInfo
from perfxl.template import render_template


def baseline(kind: str) -> None:
    layout = build_layout(get_spec(kind), 2024)
    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    sheets = {sl.spec.name: wb.add_worksheet(sl.spec.name) for sl in layout.sheets}
    for c in layout.cells():
        sheets[c.sheet].write_string(c.row, c.col, c.text or c.formula or "")
    wb.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"{'kind':8} {'perfxl ms/copy':>15} {'baseline ms':>12} {'ratio':>7}")
    for kind in ("dept", "project"):
        spec = get_spec(kind)
        t0 = time.perf_counter()
        for i in range(n):
            render_template(spec, 2024, info=CopyInfo(entity=f"单位{i}", competent="主管部门", seq=str(i)))
        ours = (time.perf_counter() - t0) / n * 1000
        t0 = time.perf_counter()
        for _ in range(n):
            baseline(kind)
        base = (time.perf_counter() - t0) / n * 1000
        print(f"{kind:8} {ours:15.1f} {base:12.1f} {ours / base:7.2f}")


if __name__ == "__main__":
    main()
