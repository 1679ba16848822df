"""What hostile or hand-edited copies do to the input area: macros, merged inputs,
formulas typed into input cells, rows beyond the tables, what the reader noted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from perfxl.checks.base import FileReport
from perfxl.forms.model import FormSpec, TableBlock
from perfxl.layout import build_layout
from perfxl.package import (
    DEFAULT_YEAR,
    FIXED_CREATED,
)
from perfxl.read import Submission


def _input_cells(sub: Submission, spec: FormSpec) -> dict[str, set[tuple[int, int]]]:
    inputs: dict[str, set[tuple[int, int]]] = {}
    for loc in sub.fields.values():
        inputs.setdefault(loc.sheet, set()).add(xl_cell_to_rowcol(loc.cell))
    for (tid, _cid), (sheet, first, col) in sub.columns.items():
        for i in range(spec.table(tid).capacity):
            inputs.setdefault(sheet, set()).add((first + i, col))
    return inputs


def trusted_modified(modified: str, now: datetime | None = None) -> tuple[str, str]:
    """The saved-at time from a file's metadata, if it can decide which submission is newer:
    ("2024-03-01T08:00:00Z", "") when usable, ("", why not) when it lies in the future or
    at or before perfxl's own fixed stamp (never re-saved, or forged), ("", "") when absent."""
    text = modified.strip()
    if not text:
        return "", ""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "", f"文件元数据中的修改时间“{text[:40]}”无法识别"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if when > now + timedelta(days=1):
        return "", f"文件元数据中的修改时间（{text[:40]}）晚于当前时间，不可信"
    if when <= FIXED_CREATED.replace(tzinfo=UTC):
        if when == FIXED_CREATED.replace(tzinfo=UTC):
            return "", ""  # perfxl's own stamp: written by perfxl, never re-saved; not a finding
        return "", f"文件元数据中的修改时间（{text[:40]}）早于模板生成时间，不可信"
    return text, ""


def check_hygiene(r: FileReport, spec: FormSpec) -> None:
    """What hostile or hand-edited copies do to the input area."""
    sub = r.submission
    assert sub is not None and sub.scan is not None
    if sub.has_macros:
        r.add(rule="file.macros", message="文件含有宏（VBA 代码）：宏不会被执行，请用下发的 .xlsx 模板填报")
    _modified, untrusted = trusted_modified(sub.scan.modified)
    if untrusted:
        r.add(rule="file.untrusted_time", message=f"{untrusted}；汇总时按文件时间判断哪份提交较新")
    for note in sub.notes:
        r.add(rule=note.code, sheet=note.sheet, cell=note.cell, message=note.message, actual=note.actual)
    layout = build_layout(spec, sub.year or DEFAULT_YEAR)
    designed = layout.merges()
    odd_merges = [
        (sheet, rng) for sheet, ranges in sub.merged.items() for rng in ranges if (sheet, *rng) not in designed
    ]
    odd_formulas = {
        sheet: cells.difference(layout.formula_refs().get(sheet, ())) for sheet, cells in sub.scan.formula_cells.items()
    }
    if not odd_merges and not any(odd_formulas.values()):
        inputs: dict[str, set[tuple[int, int]]] = {}
    else:
        inputs = _input_cells(sub, spec)
    for sheet, (r0, c0, r1, c1) in odd_merges:
        hit = sorted(rc for rc in inputs.get(sheet, set()) if r0 <= rc[0] <= r1 and c0 <= rc[1] <= c1)
        if len(hit) > 1 or (hit and (r1 > r0 or c1 > c0)):
            r.add(
                rule="template.merged_inputs",
                sheet=sheet,
                cell=xl_rowcol_to_cell(*hit[0]),
                message=f"填报区域被合并（{xl_rowcol_to_cell(r0, c0)}:{xl_rowcol_to_cell(r1, c1)}），"
                "只读取左上角单元格",
            )
    for sheet, odd in odd_formulas.items():
        for ref in sorted(odd, key=xl_cell_to_rowcol):
            if xl_cell_to_rowcol(ref) in inputs.get(sheet, set()):
                r.add(
                    rule="value.formula_in_input",
                    sheet=sheet,
                    cell=ref,
                    message="填报格中是公式而不是数据，按其计算结果读取；请直接填写数值或文字",
                )
    for sl in layout.sheets:
        last = sl.last_row
        extra = sorted({rc for rc in sub.values.get(sl.spec.name, {}) if rc[0] > last})
        unread = sub.unread_rows.get(sl.spec.name, 0)  # past the row limit: counted, not read
        if extra or unread:
            tables = [b.table for b in sl.spec.blocks if isinstance(b, TableBlock)]
            what = f"“{spec.table(tables[-1]).label}”表格之后" if tables else "表格之外"
            rows = len({rc[0] for rc in extra}) + unread
            r.add(
                rule="template.rows_beyond_capacity",
                sheet=sl.spec.name,
                cell=xl_rowcol_to_cell(*extra[0]) if extra else "",
                message=f"{what}还有 {rows:,} 行内容，超出模板范围的行不会被读取，请精简或联系财政部门",
            )
