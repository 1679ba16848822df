"""Spec → locked .xlsx template (XlsxWriter), deterministic to the byte.

XlsxWriter cannot protect workbook structure, so the written package is
re-zipped once with <workbookProtection lockStructure="1"> added and fixed
member timestamps (see `xlsxpost`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from perfxl import __version__
from perfxl.data import FormData, Numbers, Value, check_shape, numeric_view
from perfxl.errors import OutputError
from perfxl.forms import get_spec
from perfxl.forms.model import FormSpec, ValueType
from perfxl.instructions import instruction_rows
from perfxl.layout import Layout, Placed, build_layout, text_height
from perfxl.library import Common, Library, load_library
from perfxl.output import atomic_write, safe_filename
from perfxl.package import (
    FIXED_CREATED,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    META_NAME,
    META_SHEET,
    CopyInfo,
    Meta,
    column_name,
    copy_id,
    expected_fingerprint,
    field_name,
    list_columns,
    table_name,
    total_name,
)
from perfxl.rules import RULES_BY_ID, Outcome, evaluate, result_text, rules_for, side_sum
from perfxl.vocab import FRAMES, QUALITATIVE, Frame
from perfxl.xlsxpost import finalize_package

DEFAULT_PASSWORD = "perfxl"

# Colours: inputs warm yellow, computed cells pale green, labels light grey.
INPUT_BG = "#FFF2CC"
TOTAL_BG = "#E2EFDA"
LABEL_BG = "#F2F2F2"
HEADER_BG = "#DDEBF7"
PREFILL_BG = "#EDEDED"
FONT = "宋体"


def _check(rc: int | None, what: str) -> None:
    """XlsxWriter returns -1/-2 instead of raising; escalate."""
    if rc is not None and rc < 0:
        raise OutputError(f"写入模板失败：{what}（XlsxWriter 返回 {rc}）")


class _Formats:
    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}

    def get(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self._cache:
            self._cache[key] = self._wb.add_format({"font_name": FONT, "font_size": 10, **props})
        return self._cache[key]


_BOX = {"border": 1, "valign": "vcenter", "text_wrap": True}


def _style(fmts: _Formats, cell: Placed) -> Any:
    role = cell.role
    if role == "title":
        return fmts.get(bold=True, font_size=16, align="center", valign="vcenter")
    if role == "subtitle":
        return fmts.get(align="center", valign="vcenter", font_size=11)
    if role == "section":
        return fmts.get(**_BOX, bold=True, align="center", bg_color=HEADER_BG)
    if role == "header":
        return fmts.get(**_BOX, bold=True, align="center", bg_color=HEADER_BG)
    if role in ("label", "note"):
        return fmts.get(**_BOX, bg_color=LABEL_BG)
    if role == "rownum":
        return fmts.get(**_BOX, align="center", bg_color=LABEL_BG, font_color="#808080")
    if role == "blank":
        return fmts.get(**_BOX, bg_color=LABEL_BG)
    if role == "prefilled":
        return fmts.get(**_BOX, bg_color=PREFILL_BG, num_format="@")
    if role in ("total", "check_value"):
        num = "#,##0" if cell.type is ValueType.COUNT else "#,##0.00"
        return fmts.get(**_BOX, bg_color=TOTAL_BG, num_format=num, bold=role == "total")
    if role == "check":
        return fmts.get(**_BOX, align="center", bg_color=TOTAL_BG)
    return _input_style(fmts, cell)


def _input_style(fmts: _Formats, cell: Placed, locked: bool = False, bg: str = INPUT_BG) -> Any:
    """An input cell's look by its type; locked on another colour for a common row's fixed cell."""
    t = cell.type
    base = {**_BOX, "bg_color": bg} if locked else {**_BOX, "locked": False, "bg_color": bg}
    if t is ValueType.MONEY:
        return fmts.get(**base, num_format="#,##0.00", align="right")
    if t is ValueType.COUNT:
        return fmts.get(**base, num_format="0", align="right")
    if t is ValueType.TARGET:
        return fmts.get(**base, num_format="General", align="right")
    if t in (ValueType.OPERATOR, ValueType.YESNO):
        return fmts.get(**base, num_format="@", align="center")
    if t is ValueType.LONGTEXT:
        return fmts.get(**{**base, "valign": "top"}, num_format="@")
    return fmts.get(**base, num_format="@")


COMMON_NAMES = ("level1", "level2", "level3")  # always locked in a common row; the target per 可改


def _common_of(layout: Layout, cell: Placed, commons: list[Common]) -> Common | None:
    """The common indicator a cell of the indicator table belongs to (its first rows)."""
    if cell.table != "indicators" or cell.role != "input" or cell.column is None:
        return None
    i = cell.row - layout.tables["indicators"].first_row
    return commons[i] if 0 <= i < len(commons) else None


def fixed_common_cells(spec: FormSpec, year: int, library: Library | None = None) -> set[tuple[str, str]]:
    """(sheet, cell) of the common rows' locked input cells: names always, targets unless 可改."""
    layout = build_layout(spec, year)
    commons = (library or load_library()).for_kind(spec.kind)
    out = set()
    for cell in layout.cells():
        c = _common_of(layout, cell, commons)
        if c is not None and _fixed(str(cell.column), c):
            out.add((cell.sheet, cell.ref))
    return out


def _fixed(column: str, c: Common) -> bool:
    """Locked in a template: the names always, the target unless the library says 可改."""
    return column in COMMON_NAMES or not c.editable


def _common_value(c: Common, column: str) -> Value:
    if column in COMMON_NAMES:
        return str(getattr(c, column))
    if column == "op":
        return c.op
    if column == "unit":
        return c.unit or None
    if c.op == QUALITATIVE:
        return c.value
    try:
        return float(c.value)
    except ValueError:
        return c.value


def _same(typed: Value, standard: Value) -> bool:
    if isinstance(standard, float):
        try:
            return float(str(typed).strip()) == standard
        except ValueError:
            return False
    return str(typed or "").strip() == str(standard or "")


def _cached(cell: Placed) -> Any:
    """Formula results as a fresh template shows them (empty inputs)."""
    return "" if cell.role == "check" else 0


def _input_value(layout: Layout, cell: Placed, data: FormData | None) -> Value:
    if data is None:
        return None
    if cell.field:
        return data.fields.get(cell.field)
    assert cell.table is not None and cell.column is not None
    rows = data.tables.get(cell.table, [])
    i = cell.row - layout.tables[cell.table].first_row
    return rows[i].get(cell.column) if i < len(rows) else None


def _cached_results(spec: FormSpec, layout: Layout, data: FormData | None) -> dict[tuple[str, str], Any]:
    """What each formula computes for `data`, from the same rules the checks use."""
    if data is None:
        return {}
    fields, tables = numeric_view(spec, data)
    out: dict[tuple[str, str], Any] = {}
    outcomes = {r.id: evaluate(r, fields, tables) for r in rules_for(spec.kind)}
    for cell in layout.cells():
        key = (cell.sheet, cell.ref)
        if cell.role == "total" and cell.table and cell.column:
            out[key] = sum(r.get(cell.column) or 0.0 for r in tables.get(cell.table, []))
        elif cell.role == "total":
            out[key] = sum(fields.get(t) or 0.0 for t in cell.terms)
        elif cell.role in ("check", "check_value") and cell.rule:
            out[key] = _check_cache(layout, cell, outcomes, fields, tables)
    return out


def _check_cache(
    layout: Layout,
    cell: Placed,
    outcomes: dict[str, list[Outcome]],
    fields: Numbers,
    tables: dict[str, list[Numbers]],
) -> Any:
    rule_ids = (cell.rule or "").split(",")
    if cell.role == "check_value":
        rule = RULES_BY_ID[rule_ids[0]]
        return side_sum(rule.left if cell.side == "left" else rule.right, fields, tables, None)
    texts: list[str] = []
    for rid in rule_ids:
        rule = RULES_BY_ID[rid]
        if rule.table is None:
            found = outcomes[rid]
        else:
            pos = layout.tables[rule.table]
            if cell.row == pos.total_row:
                sums = {c: sum(r.get(c) or 0.0 for r in tables.get(rule.table, [])) for c in pos.columns}
                present = any(r.get(t.column) is not None for r in tables.get(rule.table, []) for t in rule.terms)
                found = evaluate(rule, {}, {rule.table: [sums]}) if present else []
            else:
                found = [o for o in outcomes[rid] if o.row == cell.row - pos.first_row]
        texts.append(result_text(found[0]) if found else "")
    return next((t for t in texts if t.startswith("✗")), texts[0] if texts else "")


def _validation(
    spec: FormSpec,
    layout: Layout,
    cell: Placed,
    first: str,
    field_label: str,
    hint: str,
    example: str,
    max_length: int | None,
) -> dict[str, Any]:
    """Data validation options for an input cell (or the first cell of a column)."""
    t = cell.type
    prompt = hint or ""
    if example:
        prompt = f"{prompt}示例：{example}" if prompt else f"示例：{example}"
    opts: dict[str, Any] = {
        "input_title": field_label[:32],
        "input_message": prompt[:255],
        "error_title": "输入有误",
        "error_type": "stop",
    }
    if t is ValueType.MONEY:
        opts.update(
            validate="custom",
            value=f"=AND(ISNUMBER({first}),{first}>=0,ROUND({first},2)={first})",
            error_message="请输入不小于 0 的数字，单位为万元，最多保留两位小数。",
        )
    elif t is ValueType.COUNT:
        opts.update(
            validate="integer",
            criteria="between",
            minimum=0,
            maximum=10_000_000,
            error_message="请输入不小于 0 的整数。",
        )
    elif t is ValueType.PHONE:
        digits = f'SUBSTITUTE(SUBSTITUTE({first},"-","")," ","")'
        opts.update(
            validate="custom",
            value=f"=AND(LEN({first})>=7,LEN({first})<=20,ISNUMBER(-{digits}))",
            error_message="请输入电话号码：7～20 位数字，可含区号和“-”，如 0531-86568760。",
        )
    elif t is ValueType.YESNO:
        opts.update(validate="list", source="=lst_yesno", error_message="请从下拉列表选择“是”或“否”。")
    elif t is ValueType.CATEGORY:
        opts.update(validate="list", source="=lst_category", error_message="请从下拉列表选择项目类别。")
    elif t is ValueType.LEVEL1:
        opts.update(validate="list", source="=lst_level1", error_message="请从下拉列表选择一级指标。")
    elif t is ValueType.LEVEL2:
        assert cell.table is not None
        pos = layout.tables[cell.table]
        l1 = xl_rowcol_to_cell(cell.row, pos.col("level1"), False, True)
        src = f"=OFFSET(lst_frame_l2,MATCH({l1},lst_frame_l1,0)-1,0,MAX(1,COUNTIF(lst_frame_l1,{l1})),1)"
        opts.update(
            validate="list",
            source=src,
            error_message="二级指标须属于本行所选一级指标，请先选一级指标，再从下拉列表选择。",
        )
    elif t is ValueType.OPERATOR:
        opts.update(validate="list", source="=lst_ops", error_message="请从下拉列表选择符号：≥ ＞ ＝ ＜ ≤ 或 定性。")
    elif t is ValueType.TARGET:
        assert cell.table is not None
        pos = layout.tables[cell.table]
        op = xl_rowcol_to_cell(cell.row, pos.col("op"), False, True)
        unit = xl_rowcol_to_cell(cell.row, pos.col("unit"), False, True)
        opts.update(
            validate="custom",
            value=(
                f'=IF({op}="{QUALITATIVE}",LEN({first})<=50,AND(ISNUMBER({first}),'
                f'{first}>=0,OR({unit}<>"%",{first}<=100)))'
            ),
            error_message=("数值须为不小于 0 的数字（单位为 % 时不超过 100）；文字目标请先把符号选为“定性”。"),
        )
    elif t is ValueType.UNIT:
        opts.update(
            validate="list",
            source="=lst_units",
            error_type="information",
            error_title="单位不在推荐列表中",
            error_message="该单位不在推荐列表中。确认无误请点“确定”保留。",
        )
    elif max_length:
        opts.update(
            validate="length", criteria="<=", value=max_length, error_message=f"内容过长：最多 {max_length} 个字。"
        )
    else:
        opts.update(validate="any")
    return opts


def _prefilled(spec: FormSpec, cell: Placed, info: CopyInfo) -> Placed:
    if cell.role == "input" and cell.field:
        value = info.prefill(spec.field(cell.field).prefill)
        if value:
            return replace(cell, role="prefilled", text=value)
    return cell


def _write_lists(wb: Any, fmts: _Formats, frame: Frame) -> Any:
    ws = wb.add_worksheet(LISTS_SHEET)
    text = fmts.get(num_format="@")
    for c, (name, header, values) in enumerate(list_columns(frame)):
        for r, v in enumerate([header, *values]):
            ws.write_string(r, c, v, text)
        a = xl_rowcol_to_cell(1, c, True, True)
        b = xl_rowcol_to_cell(len(values), c, True, True)
        _check(wb.define_name(name, f"={quote_sheetname(LISTS_SHEET)}!{a}:{b}"), name)
    return ws


def _protect(ws: Any, password: str) -> None:
    ws.protect(
        password,
        {"format_columns": True, "format_rows": True, "select_locked_cells": True, "select_unlocked_cells": True},
    )


def _print_setup(ws: Any, sheet_layout_repeat: int | None, landscape: bool) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.hide_gridlines(2)
    if sheet_layout_repeat is not None:
        ws.repeat_rows(sheet_layout_repeat)


def render_template(
    spec: FormSpec,
    year: int,
    *,
    info: CopyInfo | None = None,
    password: str = DEFAULT_PASSWORD,
    data: FormData | None = None,
    indicators: Library | None = None,
) -> bytes:
    """Build one template copy in memory; byte-identical for identical arguments.

    With `data`, the inputs are filled (still locked elsewhere) and formula
    results are cached, so viewers that do not recalculate show true totals.
    The common indicators (`indicators`, default: the packaged library) open the
    indicator table: names locked, targets prefilled with the standard (locked
    unless the library says 可改). With `data`, its rows are written there as typed.
    """
    info = info or CopyInfo()
    library = indicators or load_library()
    commons = library.for_kind(spec.kind)
    if data is not None:
        check_shape(spec, data)
    layout = build_layout(spec, year)
    cached = _cached_results(spec, layout, data)
    frame = FRAMES[spec.frame]
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
    )
    wb.set_properties(
        {
            "title": f"{spec.title}（{year}）",
            "subject": info.entity or spec.title,
            "author": "perfxl",
            "company": info.competent,
            "comments": f"perfxl {__version__}; spec {spec.kind} {spec.version}",
            "created": FIXED_CREATED,
        }
    )
    fmts = _Formats(wb)

    for sl in layout.sheets:
        ws = wb.add_worksheet(sl.spec.name)
        for c, w in enumerate(sl.spec.widths):
            ws.set_column(c, c, w)
        for r, h in sl.heights.items():
            ws.set_row(r, h)
        validated_columns: set[tuple[str, str]] = set()
        check_refs: list[str] = []
        for cell in sl.cells:
            cell = _prefilled(spec, cell, info)
            fmt = _style(fmts, cell)
            if cell.span > 1:
                ws.merge_range(cell.row, cell.col, cell.row, cell.col + cell.span - 1, "", fmt)
            value = _input_value(layout, cell, data) if cell.role == "input" else None
            common = _common_of(layout, cell, commons)
            if common is not None:
                standard = _common_value(common, str(cell.column))
                if data is None:
                    value = standard
                # A filled copy locks only what agrees with the library: a deviating or
                # missing part is what its findings point at, so it must stay editable.
                if _fixed(str(cell.column), common) and _same(value, standard):
                    fmt = _input_style(fmts, cell, locked=True, bg=PREFILL_BG)
            if cell.formula is not None:
                _check(
                    ws.write_formula(
                        cell.row, cell.col, cell.formula, fmt, cached.get((cell.sheet, cell.ref), _cached(cell))
                    ),
                    cell.formula,
                )
            elif cell.text is not None:
                _check(ws.write_string(cell.row, cell.col, cell.text, fmt), cell.text)
            elif isinstance(value, (int, float)):
                _check(ws.write_number(cell.row, cell.col, value, fmt), cell.ref)
            elif isinstance(value, str) and value:
                # always a string: text from users is data, never a formula
                _check(ws.write_string(cell.row, cell.col, value, fmt), cell.ref)
            else:
                ws.write_blank(cell.row, cell.col, None, fmt)
            if cell.role == "check":
                check_refs.append(cell.ref)
            if cell.role == "input" and cell.field:
                f = spec.field(cell.field)
                opts = _validation(spec, layout, cell, cell.ref, f.label, f.hint, f.example, f.max_length)
                _check(ws.data_validation(cell.row, cell.col, cell.row, cell.col + cell.span - 1, opts), f.id)
            elif cell.role == "input" and cell.table and cell.column:
                key = (cell.table, cell.column)
                if key in validated_columns:
                    continue
                validated_columns.add(key)
                pos = layout.tables[cell.table]
                col = spec.table(cell.table).column(cell.column)
                opts = _validation(spec, layout, cell, cell.ref, col.label, col.hint, col.example, col.max_length)
                _check(
                    ws.data_validation(pos.first_row, cell.col, pos.last_row, cell.col, opts),
                    f"{cell.table}.{cell.column}",
                )
        for ref in check_refs:
            _check(
                ws.conditional_format(
                    ref,
                    {
                        "type": "text",
                        "criteria": "begins with",
                        "value": "✗",
                        "format": fmts.get(bold=True, font_color="#9C0006", bg_color="#FFC7CE"),
                    },
                ),
                ref,
            )
            _check(
                ws.conditional_format(
                    ref,
                    {
                        "type": "text",
                        "criteria": "begins with",
                        "value": "✓",
                        "format": fmts.get(bold=True, font_color="#006100", bg_color="#C6EFCE"),
                    },
                ),
                ref,
            )
        if sl.freeze_row is not None:
            ws.freeze_panes(sl.freeze_row, 0)
        _print_setup(ws, sl.repeat_row, sl.spec.landscape)
        _protect(ws, password)

    _define_names(wb, layout)

    ins = wb.add_worksheet(INSTRUCTIONS_SHEET)
    _write_instructions(ins, fmts, spec, year, frame)
    _print_setup(ins, None, False)
    _protect(ins, password)

    lists = _write_lists(wb, fmts, frame)
    lists.very_hidden()
    _protect(lists, password)

    meta = wb.add_worksheet(META_SHEET)
    record = Meta(
        form_kind=spec.kind,
        form_title=spec.title,
        spec_version=spec.version,
        year=str(year),
        fingerprint=expected_fingerprint(spec, year, info),
        copy_id=copy_id(spec, year, info),
        issued_for=info.entity,
        competent_dept=info.competent,
        catalog_category=info.category,
        catalog_seq=info.seq,
        frame=frame.id,
        generator=f"perfxl {__version__}",
        indicator_library=library.name if commons else "",
        indicator_library_sha256=library.sha256 if commons else "",
    )
    rows = record.rows()
    text = fmts.get(num_format="@")
    for r, (k, v) in enumerate(rows):
        meta.write_string(r, 0, k, text)
        meta.write_string(r, 1, v, text)
    _check(wb.define_name(META_NAME, f"={quote_sheetname(META_SHEET)}!$A$1:$B${len(rows)}"), META_NAME)
    meta.very_hidden()
    _protect(meta, password)

    wb.worksheets()[0].activate()
    wb.close()
    return finalize_package(buf.getvalue(), password=password)


def _define_names(wb: Any, layout: Layout) -> None:
    for fid in layout.fields:
        _check(wb.define_name(field_name(fid), "=" + layout.field_ref(fid)), fid)
    for tid, pos in layout.tables.items():
        first = xl_rowcol_to_cell(pos.first_row, 1, True, True)
        last = xl_rowcol_to_cell(pos.last_row, len(pos.columns), True, True)
        _check(wb.define_name(table_name(tid), f"={quote_sheetname(pos.sheet)}!{first}:{last}"), tid)
        for cid in pos.columns:
            _check(wb.define_name(column_name(tid, cid), "=" + layout.column_ref(tid, cid)), cid)
        if pos.total_row is not None:
            spec_table = layout.spec.table(tid)
            for cid in spec_table.totals:
                ref = xl_rowcol_to_cell(pos.total_row, pos.col(cid), True, True)
                _check(wb.define_name(total_name(tid, cid), f"={quote_sheetname(pos.sheet)}!{ref}"), cid)


def _write_instructions(ws: Any, fmts: _Formats, spec: FormSpec, year: int, frame: Frame) -> None:
    widths = (14, 30, 16, 8, 52, 34)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    styles: dict[str, Callable[[], Any]] = {
        "title": lambda: fmts.get(bold=True, font_size=16, valign="vcenter"),
        "section": lambda: fmts.get(bold=True, font_size=12, valign="vcenter"),
        "note": lambda: fmts.get(text_wrap=True, valign="top"),
        "header": lambda: fmts.get(**_BOX, bold=True, align="center", bg_color=HEADER_BG),
        "cell": lambda: fmts.get(**{**_BOX, "valign": "top"}),
    }
    for r, (style, values) in enumerate(instruction_rows(spec, year, frame)):
        fmt = styles[style]()
        if style in ("title", "section", "note") and len(values) == 1:
            ws.merge_range(r, 0, r, len(widths) - 1, "", fmt)
            ws.set_row(r, text_height(values[0], sum(widths), min_height=22 if style == "title" else 18))
        else:
            ws.set_row(r, max(text_height(v, widths[c], min_height=18) for c, v in enumerate(values)))
        for c, v in enumerate(values):
            ws.write_string(r, c, v, fmt)
    ws.repeat_rows(0)


def template_filename(spec: FormSpec, year: int, info: CopyInfo | None = None) -> str:
    if info and info.entity:
        seq = f"{int(info.seq):02d}_" if info.seq.isdigit() else (f"{info.seq}_" if info.seq else "")
        safe = safe_filename(info.entity)
        return f"{spec.title}_{year}_{seq}{safe.strip()}.xlsx"
    return f"{spec.title}_{year}.xlsx"


def write_template(
    kind: str,
    year: int,
    out_dir: Path,
    *,
    info: CopyInfo | None = None,
    password: str = DEFAULT_PASSWORD,
    indicators: Library | None = None,
) -> Path:
    """Write one template into out_dir (atomically) and return its path."""
    spec = get_spec(kind)
    data = render_template(spec, year, info=info, password=password, indicators=indicators)
    path = out_dir / template_filename(spec, year, info)
    atomic_write(path, data)
    return path


def write_catalog_templates(
    catalog: Path, year: int, out_dir: Path, *, password: str = DEFAULT_PASSWORD, indicators: Library | None = None
) -> list[Path]:
    """One prefilled, locked template per catalog entry."""
    from perfxl.catalog import read_catalog

    paths: list[Path] = []
    for entry in read_catalog(catalog):
        info = CopyInfo(entity=entry.name, competent=entry.competent, category=entry.category, seq=entry.seq)
        paths.append(write_template(entry.kind, year, out_dir, info=info, password=password, indicators=indicators))
    return paths
