"""A form's data, independent of any workbook: what `export` writes and `fill` reads.

JSON shape: {"kind", "year", "fields": {id: value}, "tables": {id: [{col: value}]}}.
Values are kept as typed (numbers, or text exactly as entered); parsing into
amounts and targets happens in `numeric_view` and the readers, so the data
round-trips unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from perfxl.errors import PerfxlError
from perfxl.forms import get_spec
from perfxl.forms.model import NUMERIC_TYPES, FormSpec, ValueType
from perfxl.rules import UNREADABLE
from perfxl.values import parse_amount

Value = str | float | int | None


class DataError(PerfxlError):
    """Form data that does not fit its spec (unknown field, too many rows)."""


@dataclass(kw_only=True)
class FormData:
    """A form's content as plain data (fields and table rows), the JSON exchange format."""

    kind: str
    year: int
    fields: dict[str, Value] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Value]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Canonical: spec order, every column of every row, whole numbers without .0."""
        spec = get_spec(self.kind)
        fields = {f.id: _canon(self.fields.get(f.id)) for f in spec.fields}
        tables = {
            t.id: [{c.id: _canon(row.get(c.id)) for c in t.columns} for row in self.tables.get(t.id, [])]
            for t in spec.tables
        }
        return {"kind": self.kind, "year": self.year, "fields": fields, "tables": tables}

    @classmethod
    def from_json(cls, obj: Any) -> FormData:
        if not isinstance(obj, dict) or obj.get("kind") not in ("dept", "project"):
            raise DataError("JSON 数据须为对象，且 kind 为 dept 或 project")
        year = obj.get("year")
        if not isinstance(year, int):
            raise DataError("JSON 数据缺少整数 year")
        data = cls(
            kind=obj["kind"],
            year=year,
            fields=dict(obj.get("fields") or {}),
            tables={k: [dict(r) for r in v] for k, v in (obj.get("tables") or {}).items()},
        )
        check_shape(get_spec(data.kind), data)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n"


def _canon(v: Value) -> Value:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def check_shape(spec: FormSpec, data: FormData) -> None:
    problems: list[str] = []
    known = {f.id for f in spec.fields}
    problems += [f"未知字段 {k}" for k in data.fields if k not in known]
    for tid, rows in data.tables.items():
        try:
            table = spec.table(tid)
        except KeyError:
            problems.append(f"未知表格 {tid}")
            continue
        if len(rows) > table.capacity:
            problems.append(f"表格“{table.label}”有 {len(rows)} 行，超过模板容量 {table.capacity} 行")
        cols = {c.id for c in table.columns}
        for i, row in enumerate(rows, start=1):
            problems += [f"表格“{table.label}”第 {i} 行：未知列 {k}" for k in row if k not in cols]
    for k, v in [*data.fields.items(), *((k, v) for rows in data.tables.values() for r in rows for k, v in r.items())]:
        if (v is not None and not isinstance(v, (str, int, float))) or isinstance(v, bool):
            problems.append(f"{k} 的值须为文字或数字")
    if problems:
        raise DataError("；".join(problems))


Numbers = dict[str, float | None]


def numeric_view(
    spec: FormSpec, data: FormData, *, mark_unreadable: bool = False
) -> tuple[Numbers, dict[str, list[Numbers]]]:
    """Amounts and counts as numbers, for the rules: None when blank; when something was typed
    that is not a number, None as a spreadsheet's SUM sees it, or with `mark_unreadable`
    rules.UNREADABLE, so that the rules using it say 无法校验 instead of counting 0."""

    def number(raw: Value, decimals: int) -> float | None:
        value = parse_amount(raw, decimals=decimals).value
        if value is None and mark_unreadable and raw is not None and str(raw).strip():
            return UNREADABLE
        return value

    fields: Numbers = {}
    for f in spec.fields:
        if f.type in NUMERIC_TYPES:
            fields[f.id] = number(data.fields.get(f.id), 0 if f.type is ValueType.COUNT else 2)
    tables: dict[str, list[Numbers]] = {}
    for t in spec.tables:
        cols = [c for c in t.columns if c.type in NUMERIC_TYPES]
        if not cols:
            continue
        tables[t.id] = [{c.id: number(row.get(c.id), 2) for c in cols} for row in data.tables.get(t.id, [])]
    return fields, tables


def _value_schema(t: ValueType, max_length: int | None) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string"}
    if max_length:
        text["maxLength"] = max_length
    if t in NUMERIC_TYPES:
        # numbers as numbers; text is kept as typed so that odd input survives a round trip
        return {"type": ["number", "string", "null"], "description": "数字；也接受原样录入的文字"}
    if t is ValueType.TARGET:
        return {"type": ["number", "string", "null"], "description": "数值；定性指标为文字"}
    return {"type": ["string", "null"], **({"maxLength": max_length} if max_length else {})}


def json_schema(spec: FormSpec) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a form's data, generated from the spec."""
    fields = {f.id: {**_value_schema(f.type, f.max_length), "title": f.label} for f in spec.fields}
    tables = {}
    for t in spec.tables:
        cols = {c.id: {**_value_schema(c.type, c.max_length), "title": c.label} for c in t.columns}
        tables[t.id] = {
            "title": t.label,
            "type": "array",
            "maxItems": t.capacity,
            "items": {"type": "object", "properties": cols, "additionalProperties": False},
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"perfxl:{spec.kind}:{spec.version}",
        "title": f"{spec.title}（数据）",
        "type": "object",
        "required": ["kind", "year", "fields", "tables"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": spec.kind},
            "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
            "fields": {"type": "object", "properties": fields, "additionalProperties": False},
            "tables": {"type": "object", "properties": tables, "additionalProperties": False},
        },
    }
