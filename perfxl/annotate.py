"""Findings → a marked-up copy of the user's own workbook (the input is never touched).

Flagged cells turn red and carry a comment with the Chinese message; a
校验结果 sheet in front lists every finding with a link to its cell.
Protection stays as it was.
"""

from __future__ import annotations

import copy
import io
import math
import re
import zipfile
from collections import defaultdict
from pathlib import Path

from perfxl.check import FileReport
from perfxl.errors import OutputError
from perfxl.findings import Finding, Severity
from perfxl.layout import text_height
from perfxl.output import atomic_write
from perfxl.package import RESULT_SHEET

# Marks that stand out on the input cells' pale yellow (FFF2CC) in Excel, WPS and LibreOffice
# alike: a saturated fill and a thick border of the same hue per severity.
FILLS = {Severity.ERROR: "FF8B8B", Severity.WARNING: "FFB347", Severity.INFO: "9DC3E6"}
BORDERS = {Severity.ERROR: "C00000", Severity.WARNING: "E26B0A", Severity.INFO: "2F75B5"}


_VALUE = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?v)>([^<]*)</\1>")


def _finite(m: re.Match[bytes]) -> bytes:
    try:
        number = float(m.group(2))
    except ValueError:
        return m.group(0)  # text (t="str" and the like): not a number at all
    return m.group(0) if math.isfinite(number) else b""


def _finite_values(raw: bytes) -> bytes:
    """The package with NaN and infinite cell values emptied: openpyxl refuses some of them and
    writes the others back as numbers no spreadsheet program opens. The cells stay marked."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                body = _VALUE.sub(_finite, body)
            dst.writestr(info, body)
    return out.getvalue()


def annotated_name(path: Path) -> str:
    return f"{path.stem}_校验结果.xlsx"


def annotate(report: FileReport, out_dir: Path) -> Path | None:
    """Write the marked-up copy; None when the file could not be read as a form."""
    if report.status == "rejected" or (report.submission is not None and report.submission.format != "xlsx"):
        return None  # nothing readable, or a format openpyxl cannot write back (.xls, .ods)
    from openpyxl import load_workbook
    from openpyxl.cell.cell import MergedCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.worksheet.hyperlink import Hyperlink

    raw = report.path.read_bytes()
    if any(f.rule == "value.invalid_number" for f in report.findings):
        raw = _finite_values(raw)
    wb = load_workbook(io.BytesIO(raw))
    by_cell: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        if f.sheet in wb.sheetnames and f.cell:
            by_cell[(f.sheet, f.cell)].append(f)
    for (sheet, ref), found in by_cell.items():
        cell = wb[sheet][ref]
        if isinstance(cell, MergedCell):  # inside a merged range: mark its top-left cell
            rng = next(r for r in wb[sheet].merged_cells.ranges if ref in r)
            cell = wb[sheet].cell(rng.min_row, rng.min_col)
        worst = max(found, key=lambda f: f.severity.rank).severity
        cell.fill = PatternFill("solid", fgColor=FILLS[worst])
        edge = Side(style="thick", color=BORDERS[worst])
        cell.border = Border(left=edge, right=edge, top=edge, bottom=edge)
        text = "\n".join(f"【{f.severity.label}】{f.message}" for f in found)
        comment = Comment(text, "perfxl")
        comment.width, comment.height = 320, min(400, 60 + 40 * len(found))
        cell.comment = comment

    if RESULT_SHEET in wb.sheetnames:  # an annotated copy sent back: replace the old results
        del wb[RESULT_SHEET]
    ws = wb.create_sheet(RESULT_SHEET, 0)
    ws.append(["序号", "严重程度", "位置", "规则", "问题说明"])
    bold = Font(bold=True)
    for c in ws[1]:
        c.font = bold
    ordered = sorted(report.findings, key=lambda f: -f.severity.rank)  # stable: keeps cell order
    for i, f in enumerate(ordered, start=1):
        where = f"{f.sheet}!{f.cell}" if f.cell else (f.sheet or "整个文件")
        ws.append([i, f.severity.label, where, f.rule, f.message])
        row = ws.max_row
        ws.cell(row, 2).fill = PatternFill("solid", fgColor=FILLS[f.severity])
        if f.cell and f.sheet in wb.sheetnames:
            link = ws.cell(row, 3)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{f.sheet}'!{f.cell}")
            link.font = Font(color="0563C1", underline="single")
        ws.cell(row, 5).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = text_height(f.message, 88, min_height=18)
    if not report.findings:
        ws.append(["", "", "", "", "未发现问题。"])
    ws["G1"] = "图例（工作表中的标记）"
    ws["G1"].font = bold
    for row, severity in enumerate(Severity, start=2):
        key = ws.cell(row, 7, severity.label)
        key.fill = PatternFill("solid", fgColor=FILLS[severity])
        edge = Side(style="thick", color=BORDERS[severity])
        key.border = Border(left=edge, right=edge, top=edge, bottom=edge)
        ws.cell(row, 8, {"error": "必须修改", "warning": "请核实，必要时修改", "info": "供参考"}[severity.value])
    ws.column_dimensions["G"].width, ws.column_dimensions["H"].width = 22, 22
    for col, width in zip("ABCDE", (6, 10, 22, 30, 90), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    template_sheet = next((s for s in wb.worksheets[1:] if s.protection.sheet), None)
    if template_sheet is not None:
        ws.protection = copy.copy(template_sheet.protection)
    wb.active = 0
    for other in wb.worksheets[1:]:
        other.sheet_view.tabSelected = False
    buf = io.BytesIO()
    wb.save(buf)
    out = out_dir / annotated_name(report.path)
    if out.resolve() == report.path.resolve():
        raise OutputError(f"标注副本不能覆盖原文件：{out}")
    atomic_write(out, buf.getvalue())
    return out
