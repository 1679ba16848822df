"""Form specs by kind, checked once when first asked for."""

from __future__ import annotations

from functools import cache

from perfxl.errors import SpecError
from perfxl.forms.model import (
    Blank,
    ChecksBlock,
    Column,
    Field,
    FormSpec,
    Input,
    Row,
    Sheet,
    Table,
    TableBlock,
    Text,
    Total,
    ValueType,
)
from perfxl.vocab import FRAMES

KINDS: tuple[str, ...] = ("dept", "project")
KIND_LABELS = {"dept": "部门整体", "project": "项目支出", "": ""}  # what users read for each kind

__all__ = [
    "KINDS",
    "Blank",
    "ChecksBlock",
    "Column",
    "Field",
    "FormSpec",
    "Input",
    "Row",
    "Sheet",
    "Table",
    "TableBlock",
    "Text",
    "Total",
    "ValueType",
    "get_spec",
]


@cache
def get_spec(kind: str) -> FormSpec:
    """The spec of a form kind (dept or project): the one description everything derives from."""
    if kind == "dept":
        from perfxl.forms.dept import SPEC
    elif kind == "project":
        from perfxl.forms.project import SPEC
    else:
        raise SpecError(f"未知的表单类型：{kind!r}（可选：{'、'.join(KINDS)}）")
    validate_spec(SPEC)
    return SPEC


def validate_spec(spec: FormSpec) -> None:
    """Every field and table placed exactly once, spans fit, ids unique."""
    problems: list[str] = []
    field_ids = [f.id for f in spec.fields]
    table_ids = [t.id for t in spec.tables]
    for ids, what in ((field_ids, "field"), (table_ids, "table")):
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"duplicate {what} ids: {sorted(dupes)}")
    placed_fields: list[str] = []
    placed_tables: list[str] = []
    sheet_names = [s.name for s in spec.sheets]
    if len(set(sheet_names)) != len(sheet_names):
        problems.append("duplicate sheet names")
    for sheet in spec.sheets:
        width = len(sheet.widths)
        for block in sheet.blocks:
            if isinstance(block, Row):
                span = sum(item.span for item in block.items)
                if span > width:
                    problems.append(f"{sheet.name}: row {block.items[0]} spans {span} > {width}")
                placed_fields += [i.field for i in block.items if isinstance(i, Input)]
                for item in block.items:
                    if isinstance(item, Total):
                        missing = [t for t in item.terms if t not in field_ids]
                        if missing:
                            problems.append(f"total {item.id} sums unknown fields {missing}")
            elif isinstance(block, TableBlock):
                placed_tables.append(block.table)
                if block.table in table_ids:
                    ncols = len(spec.table(block.table).columns) + 1  # + 序号
                    if ncols > width:
                        problems.append(f"{sheet.name}: table {block.table} too wide")
    for ids, placed, what in (
        (field_ids, placed_fields, "field"),
        (table_ids, placed_tables, "table"),
    ):
        if sorted(ids) != sorted(placed):
            problems.append(f"{what}s not placed exactly once: {sorted(set(ids) ^ set(placed))}")
    if spec.frame not in FRAMES:
        problems.append(f"unknown frame {spec.frame!r}")
    if problems:
        raise SpecError(f"表单规格 {spec.kind} 有误：" + "；".join(problems))
