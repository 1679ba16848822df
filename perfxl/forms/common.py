"""Parts shared by both form types."""

from __future__ import annotations

from perfxl.forms.model import Column, Table
from perfxl.forms.model import ValueType as V


def indicator_table(*, label: str, capacity: int, level1_example: str, level2_example: str) -> Table:
    """The indicator table: 一级, 二级, 三级, 符号, 数值, 单位 (定性 text in 数值)."""
    return Table(
        id="indicators",
        label=label,
        capacity=capacity,
        columns=(
            Column(
                id="level1", label="一级指标", type=V.LEVEL1, width=14, hint="从下拉列表选择。", example=level1_example
            ),
            Column(
                id="level2",
                label="二级指标",
                type=V.LEVEL2,
                width=16,
                hint="先选一级指标，再从下拉列表选择其下的二级指标。",
                example=level2_example,
            ),
            Column(
                id="level3",
                label="三级指标",
                type=V.TEXT,
                width=40,
                max_length=100,
                hint="具体指标名称。",
                example="开展活动次数",
            ),
            Column(
                id="op",
                label="符号",
                type=V.OPERATOR,
                width=7,
                required=False,
                hint="≥ ＞ ＝ ＜ ≤，文字目标选“定性”。",
                example="≥",
            ),
            Column(
                id="value",
                label="数值",
                type=V.TARGET,
                width=12,
                hint="非负数字；符号为“定性”时填文字（如：健全、合规）。",
                example="30",
            ),
            Column(
                id="unit",
                label="单位",
                type=V.UNIT,
                width=12,
                required=False,
                hint="从下拉列表选择，列表中没有的可直接输入；定性指标不填。",
                example="次",
            ),
        ),
    )
