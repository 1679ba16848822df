"""The vocabulary in which form specs are written.

A spec says *what* a form holds (fields, tables, their types and limits) and
*where* it sits on paper (sheets, rows, spans). Writers, readers, schemas and
instructions all derive from one spec, so nothing here knows about files.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class ValueType(StrEnum):
    """Value kinds; each maps to a cell format, a validation and a schema dtype."""

    TEXT = "text"  # one line of text
    LONGTEXT = "longtext"  # wrapped paragraph
    MONEY = "money"  # 万元, two decimals, >= 0
    COUNT = "count"  # integer >= 0 (people, units)
    PHONE = "phone"
    YESNO = "yesno"  # 是 / 否
    CATEGORY = "category"  # 项目类别
    LEVEL1 = "level1"  # 一级指标, from the frame
    LEVEL2 = "level2"  # 二级指标, dependent on the 一级 of the same row
    OPERATOR = "operator"  # ≥ ＞ ＝ ＜ ≤ 定性
    TARGET = "target"  # number, or qualitative text when the operator is 定性
    UNIT = "unit"  # curated list, free text allowed


NUMERIC_TYPES = frozenset({ValueType.MONEY, ValueType.COUNT})


@dataclass(frozen=True, kw_only=True)
class Field:
    """A single input cell."""

    id: str
    label: str
    type: ValueType
    required: bool = True
    max_length: int | None = None
    hint: str = ""  # what to fill, shown as the cell's input prompt
    example: str = ""
    prefill: Literal["entity", "competent"] | None = None  # written and locked per copy


@dataclass(frozen=True, kw_only=True)
class Column:
    """One column of a repeating table."""

    id: str
    label: str
    type: ValueType
    width: float
    required: bool = True
    max_length: int | None = None
    hint: str = ""
    example: str = ""


@dataclass(frozen=True, kw_only=True)
class Table:
    """A repeating table: a header row, `capacity` input rows, optional 合计 row."""

    id: str
    label: str
    columns: tuple[Column, ...]
    capacity: int
    totals: tuple[str, ...] = ()  # column ids summed in a 合计 row
    min_rows: int = 1

    def column(self, column_id: str) -> Column:
        for col in self.columns:
            if col.id == column_id:
                return col
        raise KeyError(f"{self.id}.{column_id}")


# ----- layout -------------------------------------------------------------------

Style = Literal["title", "subtitle", "section", "label", "header", "note"]


@dataclass(frozen=True)
class Text:
    """Fixed text (locked)."""

    text: str
    span: int = 1
    style: Style = "label"


@dataclass(frozen=True)
class Input:
    """The input cell of a field (unlocked, shaded)."""

    field: str
    span: int = 1


@dataclass(frozen=True)
class Total:
    """A live sum of fields (locked formula)."""

    id: str
    terms: tuple[str, ...]
    span: int = 1


@dataclass(frozen=True)
class Blank:
    """An empty bordered cell, so boxes close."""

    span: int = 1


Item = Text | Input | Total | Blank


@dataclass(frozen=True)
class Row:
    items: tuple[Item, ...]
    height: float | None = None


@dataclass(frozen=True)
class TableBlock:
    table: str


@dataclass(frozen=True)
class ChecksBlock:
    """The visible self-check list: one row per form-scope rule with a formula."""

    label: str = "填报自检"


Block = Row | TableBlock | ChecksBlock


@dataclass(frozen=True, kw_only=True)
class Sheet:
    name: str
    widths: tuple[float, ...]
    blocks: tuple[Block, ...]
    landscape: bool = False


@dataclass(frozen=True, kw_only=True)
class FormSpec:
    """Everything about one form type, in one place."""

    kind: Literal["dept", "project"]
    version: str
    title: str
    year_caption: str  # e.g. "（{year} 年）"
    fields: tuple[Field, ...]
    tables: tuple[Table, ...]
    sheets: tuple[Sheet, ...]
    frame: str  # id of the default indicator frame
    entity_label: str  # what one submission is about: 部门名称 / 项目名称
    notes: tuple[str, ...] = ()

    def field(self, field_id: str) -> Field:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def table(self, table_id: str) -> Table:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)

    def field_ids(self) -> list[str]:
        return [f.id for f in self.fields]
