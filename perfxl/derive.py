"""Values the rules need that no single cell holds: computed from typed form data.

Pure functions of the data. Each derived value has an id the declarative rules
refer to (like a field id) and the table row it was taken from, so findings
can point at a cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perfxl.values import Target, to_wan

COST_LEVEL1 = "成本指标"
TOTAL_COST = re.compile(r"总成本$")
_NUMBERED = re.compile(r"(?:^|[\s（(：:；;，,、])(\d{1,4})\s*[.．、]")
_SPLIT = re.compile(r"[、，,；;\n]")
# 和/及 separate items only after a name that ends like an organisation
# (…办公室和城市管理部门办公室), not inside one (教育和体育局)
_AND = re.compile(r"(?<=[室科局处所站队部办委会院校园馆心组])[和及](?=\S{2})")


@dataclass(frozen=True)
class Derived:
    value: float | None
    row: int | None = None  # indicator row it came from, for locating findings


def indicator_costs(rows: Sequence[Mapping[str, object]], targets: list[Target]) -> dict[str, Derived]:
    """项目总成本 and the sum of component costs, in 万元 (元 converted).

    Components are 成本指标 rows other than the total whose unit is money
    itself (万元 or 元), not a per-unit standard such as 万元/次.
    """
    total: Derived = Derived(None)
    parts: list[float] = []
    first_part: int | None = None
    for i, (row, target) in enumerate(zip(rows, targets, strict=True)):
        if row.get("level1") != COST_LEVEL1 or target.qualitative:
            continue
        wan = to_wan(target.number, target.unit)
        name = str(row.get("level3") or "")
        if TOTAL_COST.search(name):
            if total.value is None:
                total = Derived(wan, i)
        elif wan is not None:
            parts.append(wan)
            first_part = i if first_part is None else first_part
    return {
        "cost_total": total,
        "cost_components": Derived(round(sum(parts), 6) if parts else None, first_part),
    }


def count_listed(text: object) -> float | None:
    """How many items a list field names: a numbered list's highest number, else the
    number of items separated by 、，；和 (as written in the published forms)."""
    if not isinstance(text, str) or not text.strip():
        return None
    numbers = [int(n) for n in _NUMBERED.findall(text)]
    if len(numbers) >= 2:
        return float(max(numbers))
    items = [q for p in _SPLIT.split(text.strip().rstrip("。.")) for q in _AND.split(p) if q.strip()]
    return float(len(items))


def derive(kind: str, fields: Mapping[str, object], tables: Mapping[str, Sequence[Mapping[str, object]]],
           targets: list[Target]) -> dict[str, Derived]:  # fmt: skip
    if kind == "project":
        return indicator_costs(tables.get("indicators", ()), targets)
    return {
        "units_listed": Derived(count_listed(fields.get("units_list"))),
        "depts_listed": Derived(count_listed(fields.get("depts_list"))),
    }


DERIVED_LOCATION: dict[str, str] = {
    # derived id → field or table whose cell a finding points at
    "cost_total": "indicators",
    "cost_components": "indicators",
    "units_listed": "units_list",
    "depts_listed": "depts_list",
}
