"""The declarative rules (perfxl/rules.py) evaluated on one form, each failure located
at a cell; and the indicator-frame coverage."""

from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl.checks.base import BLANKED, FileReport
from perfxl.data import numeric_view
from perfxl.derive import DERIVED_LOCATION, Derived, UnitCost, derive, unit_costs
from perfxl.forms.model import FormSpec
from perfxl.layout import build_layout
from perfxl.package import (
    DEFAULT_YEAR,
    total_name,
)
from perfxl.read import Loc, Submission, parse_ref
from perfxl.rules import UNREADABLE, Op, Outcome, Rule, Term, evaluate, rules_for
from perfxl.vocab import FRAMES


def _fmt(x: float | None, rule: Rule) -> str:
    return "（空）" if x is None else f"{x:,.{rule.decimals}f}"


def rule_message(o: Outcome) -> str:
    rule = o.rule
    u = rule.unit
    if o.status == "incomplete":
        return f"{rule.title}：数据不完整，无法核对"
    if o.status == "unchecked":
        return f"{rule.title}：无法校验（所用单元格中有无法识别的数值，见该单元格的问题）"
    diff = (o.left or 0) - (o.right or 0)
    word = {Op.EQ: "差额", Op.LE: "超出", Op.GE: "不足"}[rule.op]
    shown = -diff if rule.op is Op.GE else diff
    return (
        f"{rule.title}：{rule.left_label} {_fmt(o.left, rule)} {u}，{rule.right_label} "
        f"{_fmt(o.right, rule)} {u}，{word} {_fmt(shown, rule)} {u}"
    )


def _term_loc(
    sub: Submission, spec: FormSpec, t: Term, row: int | None, derived: dict[str, Derived], standards: list[UnitCost]
) -> Loc | None:
    if t.agg == "row" and t.table == "unit_costs" and row is not None:
        return sub.cell("indicators", standards[row].row, "value")  # the standard's own cell
    if t.agg == "row" and t.table and row is not None:
        return sub.cell(t.table, row, t.column)
    if t.agg == "sum" and t.table:
        assert sub.scan is not None
        ref = parse_ref(sub.scan.names.get(total_name(t.table, t.column), ""))
        if ref:
            return Loc(ref[0], xl_rowcol_to_cell(ref[1], ref[2]))
        pos = build_layout(spec, sub.year or DEFAULT_YEAR).tables[t.table]  # no defined names (.xls, .ods)
        if pos.total_row is not None:
            return Loc(pos.sheet, xl_rowcol_to_cell(pos.total_row, pos.col(t.column)))
        return None
    if t.ref in sub.fields:
        return sub.fields[t.ref]
    d = derived.get(t.ref)
    where = DERIVED_LOCATION.get(t.ref, "")
    if d is not None and d.row is not None and where == "indicators":
        return sub.cell("indicators", d.row, "value")
    return sub.fields.get(where)


def check_rules(r: FileReport, spec: FormSpec) -> None:
    sub = r.submission
    assert sub is not None and sub.data is not None
    fields, tables = numeric_view(spec, sub.data, mark_unreadable=True)
    _mark_blanked(sub, spec, fields, tables)
    derived = derive(spec.kind, dict(sub.data.fields), {k: list(v) for k, v in sub.data.tables.items()}, r.targets)
    values: dict[str, float | None] = {**fields, **{k: d.value for k, d in derived.items()}}
    standards = unit_costs(sub.data.tables.get("indicators", []), r.targets) if spec.kind == "project" else []
    tables = {
        **tables,
        "unit_costs": [{"expected": u.expected, "component": u.component, "tolerance": u.tolerance} for u in standards],
    }
    for rule in rules_for(spec.kind):
        found = evaluate(rule, values, tables)
        if not found:  # row rules on an empty table: say it was looked at
            r.outcomes.append((Outcome(rule=rule, row=None, left=None, right=None, status="skip"), None))
        for o in found:
            loc = None
            for t in rule.left + rule.right:
                loc = _term_loc(sub, spec, t, o.row, derived, standards)
                if loc:
                    break
            r.outcomes.append((o, loc))
            if o.status not in ("fail", "incomplete"):
                continue
            message = rule_message(o)
            if rule.table == "unit_costs" and o.row is not None:
                std, qty, cost = standards[o.row].names
                message += f"（“{std}”×“{qty}”，对照“{cost}”）"
            r.add(
                rule=rule.id,
                severity=rule.severity,
                sheet=loc.sheet if loc else "",
                cell=loc.cell if loc else "",
                message=message,
                expected=o.right,
                actual=o.left,
            )
    _coverage(r, spec)


def _mark_blanked(
    sub: Submission, spec: FormSpec, fields: dict[str, float | None], tables: dict[str, list[dict[str, float | None]]]
) -> None:
    """Cells the reader emptied (a date, NaN) held something: UNREADABLE to the rules, like text."""
    blanked = {(n.sheet, n.cell) for n in sub.notes if n.code in BLANKED}
    if not blanked:
        return
    for fid in fields:
        loc = sub.fields.get(fid)
        if loc is not None and (loc.sheet, loc.cell) in blanked:
            fields[fid] = UNREADABLE
    for tid, rows in tables.items():
        for i, row in enumerate(rows):
            for cid in row:
                loc = sub.cell(tid, i, cid)
                if (loc.sheet, loc.cell) in blanked:
                    row[cid] = UNREADABLE


def _coverage(r: FileReport, spec: FormSpec) -> None:
    """Each 一级 of the frame needs at least one indicator with a name and a target."""
    sub = r.submission
    assert sub is not None and sub.data is not None
    rows = sub.data.tables.get("indicators", [])
    frame = FRAMES[spec.frame]
    if sub.columns[("indicators", "level1")][0] not in sub.values:
        return  # the sheet is gone: reported once as template.sheet_missing
    first = sub.cell("indicators", 0, "level1") if rows else Loc(*_first_indicator_cell(sub))
    for level1 in frame.level1():
        idx = [i for i, row in enumerate(rows) if row.get("level1") == level1]
        usable = [i for i in idx if rows[i].get("level3") and (r.targets[i].number is not None or r.targets[i].text)]
        if not usable:
            loc = sub.cell("indicators", idx[0], "level3") if idx else first
            r.add(
                rule=f"{spec.kind}.indicators.level1_missing",
                sheet=loc.sheet,
                cell=loc.cell,
                message=f"缺少有效的“{level1}”（至少填写一条三级指标及目标值）",
                expected=level1,
            )


def _first_indicator_cell(sub: Submission) -> tuple[str, str]:
    sheet, first, col = sub.columns[("indicators", "level1")]
    return sheet, xl_rowcol_to_cell(first, col)
