"""Spec → cell positions. Shared by the template writer and (as a fallback) readers.

Pure computation: no workbook objects. Two passes, because a self-check on one
sheet may refer to a table on a later one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from perfxl.forms.model import (
    Blank,
    ChecksBlock,
    FormSpec,
    Input,
    Row,
    Sheet,
    TableBlock,
    Text,
    Total,
    ValueType,
)
from perfxl.rules import Resolver, Rule, present_formula, result_formula, rules_for, side_formula

Role = Literal[
    "title", "subtitle", "section", "label", "header", "note", "blank",
    "input", "prefilled", "total", "check", "check_value", "rownum",
]  # fmt: skip

LOCKED_ROLES = frozenset(
    {"title", "subtitle", "section", "label", "header", "note", "blank", "prefilled",
     "total", "check", "check_value", "rownum"}
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Placed:
    sheet: str
    row: int  # 0-based
    col: int  # 0-based
    role: Role
    span: int = 1
    text: str | None = None
    formula: str | None = None
    field: str | None = None  # field id of an input
    table: str | None = None
    column: str | None = None
    type: ValueType | None = None
    rule: str | None = None
    terms: tuple[str, ...] = ()  # fields summed by a total
    side: Literal["left", "right"] | None = None  # which side a check value shows

    @property
    def ref(self) -> str:
        return str(xl_rowcol_to_cell(self.row, self.col))


@dataclass(frozen=True, kw_only=True)
class TablePos:
    table: str
    sheet: str
    header_row: int
    first_row: int
    capacity: int
    columns: tuple[str, ...]
    total_row: int | None
    check_col: int | None

    @property
    def last_row(self) -> int:
        return self.first_row + self.capacity - 1

    def col(self, column_id: str) -> int:
        return 1 + self.columns.index(column_id)  # column A holds 序号


@dataclass
class SheetLayout:
    spec: Sheet
    cells: list[Placed] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)
    repeat_row: int | None = None  # table header to print on every page
    freeze_row: int | None = None

    @cached_property
    def last_row(self) -> int:
        """The sheet's last template row: anything below it is outside the form."""
        return max(c.row for c in self.cells)


@dataclass
class Layout:
    spec: FormSpec
    year: int
    sheets: list[SheetLayout]
    fields: dict[str, tuple[str, int, int]]
    tables: dict[str, TablePos]
    _cells: list[Placed] | None = None
    _formulas: dict[str, tuple[str, ...]] | None = None
    _merges: set[tuple[str, int, int, int, int]] | None = None

    def field_ref(self, field_id: str, *, with_sheet: bool = True) -> str:
        sheet, row, col = self.fields[field_id]
        ref = xl_rowcol_to_cell(row, col, True, True)
        return f"{quote_sheetname(sheet)}!{ref}" if with_sheet else ref

    def column_ref(self, table_id: str, column_id: str) -> str:
        pos = self.tables[table_id]
        c = pos.col(column_id)
        a = xl_rowcol_to_cell(pos.first_row, c, True, True)
        b = xl_rowcol_to_cell(pos.last_row, c, True, True)
        return f"{quote_sheetname(pos.sheet)}!{a}:{b}"

    def row_cell(self, table_id: str, column_id: str, row: int) -> str:
        pos = self.tables[table_id]
        return str(xl_rowcol_to_cell(pos.first_row + row, pos.col(column_id)))

    def resolver(self) -> Resolver:
        return Resolver(field=self.field_ref, column=self.column_ref, row_cell=self.row_cell)

    def cells(self) -> list[Placed]:
        if self._cells is None:
            self._cells = [c for s in self.sheets for c in s.cells]
        return self._cells

    def formula_refs(self) -> dict[str, tuple[str, ...]]:
        """Sheet → cells that hold the template's own formulas, in layout order."""
        if self._formulas is None:
            out: dict[str, list[str]] = {}
            for c in self.cells():
                if c.formula is not None:
                    out.setdefault(c.sheet, []).append(c.ref)
            self._formulas = {k: tuple(v) for k, v in out.items()}
        return self._formulas

    def merges(self) -> set[tuple[str, int, int, int, int]]:
        """(sheet, r0, c0, r1, c1) of every merged range the template itself has."""
        if self._merges is None:
            self._merges = {(c.sheet, c.row, c.col, c.row, c.col + c.span - 1) for c in self.cells() if c.span > 1}
        return self._merges


def display_width(text: str) -> int:
    """Column-width units a text needs on one line (CJK glyphs count double)."""
    return sum(1 if ord(ch) < 0x2E80 else 2 for ch in text)


def text_height(text: str, width: float, *, min_height: float = 20.0) -> float:
    """Row height (points) so wrapped static text shows whole in Excel and LibreOffice."""
    lines = 0
    for part in text.split("\n"):
        lines += max(1, -(-int(display_width(part) * 0.9) // max(1, int(width) - 1)))
    return max(min_height, 14.0 * lines + 4)


def _fmt(text: str, spec: FormSpec, year: int) -> str:
    return text.format(title=spec.title, year_caption=spec.year_caption.format(year=year))


def in_sheet(rule: Rule, spec: FormSpec) -> bool:
    """A rule compiles to a formula when every term is a cell of the form itself."""
    fields = set(spec.field_ids())
    columns = {f"{t.id}.{c.id}" for t in spec.tables for c in t.columns}
    if not rule.sheet:
        return False
    return all((t.ref in fields) if t.agg == "value" else (t.ref in columns) for t in rule.terms)


def _row_rules(spec: FormSpec, table_id: str) -> list[Rule]:
    return [r for r in rules_for(spec.kind) if r.table == table_id and in_sheet(r, spec)]


def _form_rules(spec: FormSpec) -> list[Rule]:
    return [r for r in rules_for(spec.kind) if r.table is None and in_sheet(r, spec)]


_LAYOUTS: dict[tuple[int, int], tuple[FormSpec, Layout]] = {}


def build_layout(spec: FormSpec, year: int) -> Layout:
    """Cached per spec object and year (hashing a whole spec would cost more than the cache
    saves): every reader in a batch shares one layout. Treat it as read-only."""
    hit = _LAYOUTS.get((id(spec), year))
    if hit is not None and hit[0] is spec:
        return hit[1]
    layout = _build_layout(spec, year)
    _LAYOUTS[(id(spec), year)] = (spec, layout)
    return layout


def _build_layout(spec: FormSpec, year: int) -> Layout:
    fields: dict[str, tuple[str, int, int]] = {}
    tables: dict[str, TablePos] = {}
    # pass 1: positions
    for sheet in spec.sheets:
        r = 0
        for block in sheet.blocks:
            if isinstance(block, Row):
                c = 0
                for item in block.items:
                    if isinstance(item, Input):
                        fields[item.field] = (sheet.name, r, c)
                    c += item.span
                r += 1
            elif isinstance(block, TableBlock):
                table = spec.table(block.table)
                has_check = bool(_row_rules(spec, table.id))
                tables[table.id] = TablePos(
                    table=table.id,
                    sheet=sheet.name,
                    header_row=r,
                    first_row=r + 1,
                    capacity=table.capacity,
                    columns=tuple(col.id for col in table.columns),
                    total_row=r + 1 + table.capacity if table.totals else None,
                    check_col=1 + len(table.columns) if has_check else None,
                )
                r += 1 + table.capacity + (1 if table.totals else 0)
            elif isinstance(block, ChecksBlock):
                r += 1 + len(_form_rules(spec))
    layout = Layout(spec=spec, year=year, sheets=[], fields=fields, tables=tables)
    res = layout.resolver()
    # pass 2: cells
    for sheet in spec.sheets:
        sl = SheetLayout(spec=sheet)
        layout.sheets.append(sl)
        r = 0
        for block in sheet.blocks:
            if isinstance(block, Row):
                c = 0
                need = 20.0
                for item in block.items:
                    placed = _place_item(spec, year, sheet.name, r, c, item, layout)
                    sl.cells.append(placed)
                    if placed.role in ("label", "section", "header") and placed.text:
                        width = sum(sheet.widths[c : c + item.span])
                        need = max(need, text_height(placed.text, width))
                    c += item.span
                sl.heights[r] = block.height or need
                r += 1
            elif isinstance(block, TableBlock):
                pos = tables[block.table]
                sl.cells += _place_table(spec, pos, layout)
                sl.heights[pos.header_row] = max(
                    text_height(c.text or "", sheet.widths[c.col]) for c in sl.cells if c.row == pos.header_row
                )
                if sum(isinstance(b, TableBlock) for b in sheet.blocks) == 1:
                    sl.repeat_row = pos.header_row
                    sl.freeze_row = pos.first_row
                r = (pos.total_row if pos.total_row is not None else pos.last_row) + 1
            elif isinstance(block, ChecksBlock):
                sl.cells += _place_checks(spec, sheet, r, block, res)
                for k, rule in enumerate(_form_rules(spec)):
                    sl.heights[r + 1 + k] = text_height(rule.title, sheet.widths[1])
                r += 1 + len(_form_rules(spec))
    return layout


def _place_item(spec: FormSpec, year: int, sheet: str, r: int, c: int, item: object, layout: Layout) -> Placed:
    if isinstance(item, Text):
        return Placed(sheet=sheet, row=r, col=c, role=item.style, span=item.span, text=_fmt(item.text, spec, year))
    if isinstance(item, Input):
        f = spec.field(item.field)
        return Placed(sheet=sheet, row=r, col=c, role="input", span=item.span, field=f.id, type=f.type)
    if isinstance(item, Total):
        refs = ",".join(layout.field_ref(t) for t in item.terms)
        return Placed(
            sheet=sheet,
            row=r,
            col=c,
            role="total",
            span=item.span,
            formula=f"=SUM({refs})",
            type=ValueType.MONEY,
            terms=item.terms,
        )
    assert isinstance(item, Blank)
    return Placed(sheet=sheet, row=r, col=c, role="blank", span=item.span)


def _place_table(spec: FormSpec, pos: TablePos, layout: Layout) -> list[Placed]:
    table = spec.table(pos.table)
    out: list[Placed] = [Placed(sheet=pos.sheet, row=pos.header_row, col=0, role="header", text="序号")]
    for col in table.columns:
        out.append(Placed(sheet=pos.sheet, row=pos.header_row, col=pos.col(col.id), role="header", text=col.label))
    row_rules = _row_rules(spec, table.id)
    if pos.check_col is not None:
        out.append(Placed(sheet=pos.sheet, row=pos.header_row, col=pos.check_col, role="header", text="自检"))
    res = layout.resolver()
    for i in range(pos.capacity):
        r = pos.first_row + i
        out.append(Placed(sheet=pos.sheet, row=r, col=0, role="rownum", text=str(i + 1)))
        for col in table.columns:
            out.append(
                Placed(
                    sheet=pos.sheet,
                    row=r,
                    col=pos.col(col.id),
                    role="input",
                    table=table.id,
                    column=col.id,
                    type=col.type,
                )
            )
        if pos.check_col is not None:
            out.append(_row_check(pos, row_rules, r, i, res))
    if pos.total_row is not None:
        first_total = min(pos.col(c) for c in table.totals)
        out.append(
            Placed(sheet=pos.sheet, row=pos.total_row, col=0, role="label", span=first_total, text="合计（自动计算）")
        )
        for col in table.columns:
            c = pos.col(col.id)
            if c < first_total:
                continue
            if col.id in table.totals:
                rng = layout.column_ref(table.id, col.id).split("!", 1)[1]
                out.append(
                    Placed(
                        sheet=pos.sheet,
                        row=pos.total_row,
                        col=c,
                        role="total",
                        formula=f"=SUM({rng})",
                        table=table.id,
                        column=col.id,
                        type=col.type,
                    )
                )
            else:
                out.append(Placed(sheet=pos.sheet, row=pos.total_row, col=c, role="blank"))
        if pos.check_col is not None:
            # the same row identity, applied to the 合计 row
            out.append(_row_check(pos, row_rules, pos.total_row, None, res))
    return out


def _row_check(pos: TablePos, rules: list[Rule], r: int, i: int | None, res: Resolver) -> Placed:
    """One ✓/✗ cell per row; several row rules join with the first failure shown."""
    parts: list[str] = []
    for rule in rules:
        if i is None:  # the 合计 row: refer to the total cells in the same columns

            def total_cell(table: str, column: str, _row: int) -> str:
                return str(xl_rowcol_to_cell(r, pos.col(column)))

            def column_range(table: str, column: str, _row: int) -> str:
                return res.column(table, column).split("!", 1)[1]

            rr = Resolver(field=res.field, column=res.column, row_cell=total_cell)
            # totals are formulas (always numbers): presence comes from the inputs above
            rp = Resolver(field=res.field, column=res.column, row_cell=column_range)
            left, right = side_formula(rule.left, rr, 0), side_formula(rule.right, rr, 0)
            parts.append(result_formula(rule, left, right, present_formula(rule, rp, 0)))
        else:
            left, right = side_formula(rule.left, res, i), side_formula(rule.right, res, i)
            parts.append(result_formula(rule, left, right, present_formula(rule, res, i)))
    formula = parts[0]
    for extra in parts[1:]:
        formula = f'IF(LEFT({formula},1)="✗",{formula},{extra})'
    return Placed(
        sheet=pos.sheet,
        row=r,
        col=pos.check_col or 0,
        role="check",
        formula="=" + formula,
        rule=",".join(x.id for x in rules),
    )


def _place_checks(spec: FormSpec, sheet: Sheet, r0: int, block: ChecksBlock, res: Resolver) -> list[Placed]:
    s = sheet.name
    out = [
        Placed(sheet=s, row=r0, col=0, role="section", text=block.label),
        Placed(sheet=s, row=r0, col=1, role="header", text="校验项目"),
        Placed(sheet=s, row=r0, col=2, role="header", text="左值"),
        Placed(sheet=s, row=r0, col=3, role="header", text="右值"),
        Placed(sheet=s, row=r0, col=4, role="header", text="结果"),
    ]
    for k, rule in enumerate(_form_rules(spec)):
        r = r0 + 1 + k
        lref = xl_rowcol_to_cell(r, 2)
        rref = xl_rowcol_to_cell(r, 3)
        vtype = ValueType.MONEY if rule.decimals else ValueType.COUNT
        out += [
            Placed(sheet=s, row=r, col=0, role="blank"),
            Placed(sheet=s, row=r, col=1, role="label", text=rule.title, rule=rule.id),
            Placed(
                sheet=s,
                row=r,
                col=2,
                role="check_value",
                type=vtype,
                rule=rule.id,
                side="left",
                formula="=" + side_formula(rule.left, res),
            ),
            Placed(
                sheet=s,
                row=r,
                col=3,
                role="check_value",
                type=vtype,
                rule=rule.id,
                side="right",
                formula="=" + side_formula(rule.right, res),
            ),
            Placed(
                sheet=s,
                row=r,
                col=4,
                role="check",
                rule=rule.id,
                formula="=" + result_formula(rule, lref, rref, present_formula(rule, res)),
            ),
        ]
    return out
