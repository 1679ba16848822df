"""Render the templates as a printer would, into docs/*.png (LibreOffice → PDF → PNG).

Usage (from the repo root, in the project venv, with LibreOffice, python3-uno
and poppler-utils installed):  python scripts/render_docs.py

Writes the blank 2024 templates page by page, plus the 部门整体 sheet filled with
the seed's 民政局 budget numbers so the live totals and ✓/✗ self-checks show.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import lo  # noqa: E402
from seed import forms  # noqa: E402

from perfxl.forms import get_spec  # noqa: E402
from perfxl.layout import build_layout  # noqa: E402
from perfxl.template import render_template  # noqa: E402

DOCS = ROOT / "docs"
DPI = "80"


def pdf_to_png(pdf: Path, stem: str, pages: list[int]) -> list[Path]:
    out = []
    for page in pages:
        target = DOCS / f"{stem}-p{page}"
        subprocess.run(
            ["pdftoppm", "-r", DPI, "-png", "-singlefile", "-f", str(page), "-l", str(page), str(pdf), str(target)],
            check=True,
        )
        out.append(target.with_suffix(".png"))
    return out


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for old in DOCS.glob("*.png"):
        if not old.name.startswith("serve_"):  # those come from tests/test_browser.py
            old.unlink()
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for kind, pages in (("dept", [1, 2, 3, 4]), ("project", [1, 2])):
            xlsx = t / f"{kind}.xlsx"
            xlsx.write_bytes(render_template(get_spec(kind), 2024))
            pdf = t / f"{kind}.pdf"
            lo.probe(xlsx, [], save_pdf=str(pdf))
            written += pdf_to_png(pdf, f"{kind}_2024", pages)
        # the common indicators as a department receives them: prefilled, names locked
        xlsx = t / "dept.xlsx"
        pdf = t / "common.pdf"
        steps = [
            {"op": "print_area", "sheet": "年度绩效指标", "range": "A1:G21"},
            {"op": "only_sheet", "sheet": "年度绩效指标"},
        ]
        lo.probe(xlsx, steps, save_pdf=str(pdf))
        target = DOCS / "dept_2024_共性指标"
        crop = ["-x", "60", "-y", "65", "-W", "960", "-H", "430"]  # title and the common rows, at 130 dpi
        subprocess.run(
            ["pdftoppm", "-r", "130", "-png", "-singlefile", "-f", "1", "-l", "1", *crop, str(pdf), str(target)],
            check=True,
        )
        written.append(target.with_suffix(".png"))
        # 民政局 numbers typed in, as a department would see its sheet before submitting
        layout = build_layout(get_spec("dept"), 2024)
        seed_form = next(f for f in forms() if f.name == "济南市历下区民政局")
        cells: list[list[object]] = []
        for fid, value in seed_form.money.items():
            sheet, r, c = layout.fields[fid]
            if value is not None:
                cells.append([sheet, f"{chr(65 + c)}{r + 1}", value])
        sheet, r, c = layout.fields["dept_name"]
        cells.append([sheet, f"{chr(65 + c)}{r + 1}", seed_form.name])
        pos = layout.tables["tasks"]
        for i, task in enumerate(seed_form.tasks):
            for j, cid in enumerate(("function", "task", "projects", "budget", "fiscal", "other")):
                v: object = task[j]
                if j >= 3:
                    v = float(str(v).replace(",", ""))
                cells.append([pos.sheet, f"{chr(65 + pos.col(cid))}{pos.first_row + i + 1}", v])
        xlsx = t / "filled.xlsx"
        xlsx.write_bytes(render_template(get_spec("dept"), 2024))
        pdf = t / "filled.pdf"
        lo.probe(xlsx, [{"op": "set", "cells": cells}, {"op": "recalc"}], save_pdf=str(pdf))
        written += pdf_to_png(pdf, "dept_2024_民政局示例", [1, 3])
        # the auditors' view, as a bureau's folder holds it: samples/ and 汇总/ side by side, so the
        # source links read ../samples/…; each sheet cropped to the columns an auditor reads first
        from perfxl.consolidated import write_consolidated
        from perfxl.merging import merge

        inbox = t / "samples"
        inbox.mkdir()
        for p in sorted((ROOT / "samples").glob("*.xlsx")):
            shutil.copy(p, inbox / p.name)
        merged = write_consolidated(
            merge(sorted(inbox.glob("*.xlsx")), catalog=ROOT / "samples" / "catalog.csv", year=2024,
                  round_date="2026-11-27"),
            t / "汇总" / "汇总.xlsx",
        )  # fmt: skip
        for sheet, area, stem, height in (
            ("交叉校验", "A1:K16", "merge_交叉校验", 205),
            ("问题清单", "A1:H16", "merge_问题清单", 205),
            ("概览", "A1:O40", "merge_概览", 520),
        ):
            pdf = t / f"{stem}.pdf"
            steps = [{"op": "print_area", "sheet": sheet, "range": area}, {"op": "only_sheet", "sheet": sheet}]
            lo.probe(merged, steps, save_pdf=str(pdf))
            target = DOCS / stem
            crop = ["-x", "70", "-y", "78", "-W", "1150", "-H", str(height)]  # the table's top left, at 110 dpi
            subprocess.run(
                ["pdftoppm", "-r", "110", "-png", "-singlefile", "-f", "1", "-l", "1", *crop, str(pdf), str(target)],
                check=True,
            )
            written.append(target.with_suffix(".png"))
    for p in written:
        print(p.relative_to(ROOT))
    if not shutil.which("pdftoppm"):
        raise SystemExit("pdftoppm missing: apt-get install poppler-utils")


if __name__ == "__main__":
    main()
