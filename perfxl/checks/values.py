"""Each number and each indicator target, as typed: parse, and report what is odd
at the cell the person has to change."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from perfxl.checks.base import BLANKED, FileReport
from perfxl.findings import Severity
from perfxl.forms.model import NUMERIC_TYPES, FormSpec, ValueType
from perfxl.read import Loc, Submission
from perfxl.values import Problem, Target, normalise, parse_amount, parse_target, split_operator
from perfxl.vocab import QUALITATIVE


def _problem(r: FileReport, p: Problem, loc: Loc, what: str, value: object) -> None:
    r.add(
        rule=f"value.{p.code}",
        severity=Severity(p.severity),
        sheet=loc.sheet,
        cell=loc.cell,
        message=f"{what}：{p.message}",
        actual=value,
    )


def check_values(r: FileReport, spec: FormSpec) -> None:
    sub = r.submission
    assert sub is not None and sub.data is not None
    for f in spec.fields:
        if f.type in NUMERIC_TYPES:
            raw = sub.data.fields.get(f.id)
            amount = parse_amount(raw, decimals=0 if f.type is ValueType.COUNT else 2)
            for p in amount.problems:
                _problem(r, p, sub.fields[f.id], f.label, raw)
    for t in spec.tables:
        for i, row in enumerate(sub.data.tables.get(t.id, [])):
            for col in t.columns:
                if col.type in NUMERIC_TYPES:
                    amount = parse_amount(row.get(col.id), decimals=0 if col.type is ValueType.COUNT else 2)
                    for p in amount.problems:
                        _problem(
                            r,
                            p,
                            sub.cell(t.id, i, col.id),
                            f"{t.label}第 {sub.rows[t.id][i] + 1} 行{col.label}",
                            row.get(col.id),
                        )
    rows = sub.data.tables.get("indicators", [])
    r.targets = [_target(r, sub, i, row) for i, row in enumerate(rows)]


def _target(r: FileReport, sub: Submission, i: int, row: dict[str, Any]) -> Target:
    """One indicator row's 符号 / 数值 / 单位 cells → a target, with problems located."""
    value = row.get("value")
    target = _target_of(row.get("op"), value, row.get("unit"))
    if target.problems:
        name = str(row.get("level3") or "").strip() or f"第 {sub.rows['indicators'][i] + 1} 行"
        value_loc = sub.cell("indicators", i, "value")
        if any(n.code in BLANKED and (n.sheet, n.cell) == (value_loc.sheet, value_loc.cell) for n in sub.notes):
            # the reader reported this cell already (a date, NaN): once is enough. Not reported
            # again, the problem only tells the rules that use the cell to say 无法校验
            return Target(raw="", op=target.op, problems=(Problem("not_a_number", "读取时已报告", "error"),))
        for p in target.problems:
            # point at the cell the person must change: a missing operator is fixed in 符号
            column = "op" if p.code == "no_operator" and value is not None and not isinstance(value, str) else "value"
            _problem(r, p, sub.cell("indicators", i, column), f"三级指标“{name}”", value)
    return target


@lru_cache(maxsize=65536, typed=True)  # typed: True, 1 and 1.0 are different cells
def _target_of(op_raw: Any, value: Any, unit_raw: Any) -> Target:
    """The pure part of `_target`; the same three cells recur across thousands of forms."""
    op = split_operator(normalise(str(op_raw)))[0] if isinstance(op_raw, str) and op_raw.strip() else None
    if isinstance(op_raw, str) and normalise(op_raw) == QUALITATIVE:
        op = QUALITATIVE
    unit = normalise(str(unit_raw)) if unit_raw is not None else ""
    if value is None:
        return Target(raw="", op=op)  # nothing typed: the schema reports a required 数值, once
    if isinstance(value, str) and not normalise(value):  # only spaces: blank, said so once
        return Target(raw="", op=op, problems=(Problem("empty", "目标值为空（只有空格）", "error"),))
    if op == QUALITATIVE:
        target = Target(raw=str(value or ""), op=QUALITATIVE, text=str(value or "").strip())
        if not target.text:
            target = Target(raw="", op=QUALITATIVE, problems=(Problem("empty", "定性指标未填写目标文字", "error"),))
    elif isinstance(value, str) and (op is None or split_operator(normalise(value))[0]):
        target = parse_target(value)  # the whole target typed or pasted into 数值 (≥95%)
        if unit and not target.unit and target.number is not None:
            target = parse_target(f"{value} {unit}")
        if op and target.op and target.op != op:
            conflict = Problem(
                "op_conflict", f"符号栏是“{op}”，数值栏里写的是“{target.op}”，按数值栏读取，请统一", "warning"
            )
            target = replace(target, problems=(*target.problems, conflict))
    else:
        text = f"{op or ''}{'' if value is None else value} {unit}".strip()
        target = parse_target(text if value is not None else "")
    n = target.number
    if target.unit == "%" and n is not None and 0 < n < 1 and target.op in ("≥", "＞", "＝"):
        hint = Problem(
            "percent_fraction", f"目标值 {n:g}% 小于 1%：如果指的是 {n * 100:g}%，数值栏请填写 {n * 100:g}", "info"
        )
        target = replace(target, problems=(*target.problems, hint))
    return target
