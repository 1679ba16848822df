"""Required fields, lengths, dropdown choices, indicator pairs: pandera schemas derived
from the spec, one vectorised pass per table kind across all files of a batch."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from perfxl.checks.base import BLANKED, FileReport, internal_error
from perfxl.forms import get_spec
from perfxl.forms.model import FormSpec
from perfxl.read import Loc
from perfxl.schema import Failure, fields_schema, table_schema, validate
from perfxl.values import normalise, split_operator
from perfxl.vocab import QUALITATIVE

CHECK_TEXT = {  # schema check → the end of its message (the finding id is schema.<check>)
    "required": "必填项未填写", "too_long": "内容超过长度上限", "choice": "不是下拉列表中的选项",
    "negative": "不应为负数", "integer": "应为整数", "phone": "电话号码格式不正确",
    "level_pair": "，请按指标框架重新选择",
}  # fmt: skip


def _clean(v: Any, column: str = "") -> Any:
    """What the schema sees: trimmed, half-width text; operators in their stored form."""
    if not isinstance(v, str):
        return v
    return _clean_text(v, column == "op")


@lru_cache(maxsize=65536)
def _clean_text(v: str, operator: bool) -> str:
    """Cached: names, operators and units repeat across thousands of forms."""
    v = normalise(v)
    if operator and v != QUALITATIVE:
        op, rest = split_operator(v)
        return op if op and not rest else v
    return v


def check_schemas(reports: list[FileReport]) -> None:
    live = [r for r in reports if r.status != "rejected" and r.submission and r.submission.data and r.kind]
    for kind in ("dept", "project"):
        group = [r for r in live if r.kind == kind]
        if not group:
            continue
        try:
            _schema_group(group, get_spec(kind))
        except Exception:
            for r in group:  # find the file the vectorised pass choked on
                try:
                    _schema_group([r], get_spec(kind))
                except Exception as exc:
                    internal_error(r, exc)


def _schema_group(group: list[FileReport], spec: FormSpec) -> None:
    labels = {f.id: f.label for f in spec.fields}
    cols = [f.id for f in spec.fields if not f.prefill]
    records = [{c: _clean(r.submission.data.fields.get(c)) for c in cols} for r in group]  # type: ignore[union-attr]
    limits = {f.id: f.max_length for f in spec.fields}
    for fail in validate(fields_schema(spec), records, cols):
        _schema_finding(
            group[fail.key],
            fail,
            labels.get(fail.column, fail.column),
            group[fail.key].submission.fields[fail.column],  # type: ignore[union-attr]
            limits.get(fail.column),
        )
    for t in spec.tables:
        keys: list[tuple[FileReport, int]] = []
        recs: list[dict[str, Any]] = []
        for r in group:
            for i, row in enumerate(r.submission.data.tables.get(t.id, [])):  # type: ignore[union-attr]
                keys.append((r, i))
                recs.append({c.id: _clean(row.get(c.id), c.id) for c in t.columns})
        tcols = [c.id for c in t.columns]
        for fail in validate(table_schema(spec, t), recs, tcols):
            r, i = keys[fail.key]
            sub = r.submission
            assert sub is not None
            label = f"{t.label}第 {sub.rows[t.id][i] + 1} 行{t.column(fail.column).label}"
            if fail.check == "level_pair":
                row = recs[fail.key]
                label = f"{t.label}第 {sub.rows[t.id][i] + 1} 行二级指标“{row['level2']}”"
                fail = Failure(fail.key, fail.column, fail.check, None)
                label += f"不属于一级指标“{row['level1']}”"
            _schema_finding(r, fail, label, sub.cell(t.id, i, fail.column), t.column(fail.column).max_length)


def _schema_finding(r: FileReport, fail: Failure, label: str, loc: Loc, limit: int | None = None) -> None:
    sub = r.submission
    if (
        fail.check == "required"
        and sub is not None
        and any(n.code in BLANKED and (n.sheet, n.cell) == (loc.sheet, loc.cell) for n in sub.notes)
    ):
        return  # reported once, as the invalid number it was
    rule, text = f"schema.{fail.check}", CHECK_TEXT.get(fail.check, "不符合要求")
    value = None if fail.check == "required" else fail.value
    shown = f"（“{value}”）" if value is not None and fail.check not in ("too_long",) else ""
    if fail.check == "too_long" and isinstance(value, str):
        shown = f"（上限 {limit} 字）" if limit else ""
    r.add(rule=rule, sheet=loc.sheet, cell=loc.cell, message=f"{label}{text}{shown}", actual=value)
