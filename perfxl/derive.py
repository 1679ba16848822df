"""Values the rules need that no single cell holds: computed from typed form data.

Pure functions of the data. Each derived value has an id the declarative rules
refer to (like a field id) and the table row it was taken from, so findings
can point at a cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from perfxl.rules import UNREADABLE
from perfxl.values import MONEY_UNITS, Target, normalise, to_wan

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
        if target.unreadable:  # a money row whose number cannot be read: the sums are unknown
            unit = normalise(str(row.get("unit") or ""))
            wan = UNREADABLE if TOTAL_COST.search(name) or unit in MONEY_UNITS else None
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


_STANDARD_SUFFIX = re.compile(r"(分项)?(单位成本|人均标准|平均费用标准|平均标准|费用标准|支出标准|标准)$")


@lru_cache(maxsize=65536)
def _lcs(a: str, b: str) -> int:
    """Length of the longest common substring. Indicator names repeat across thousands of
    forms (cached), and `in` does the scanning: a substring of `a` found in `b` can only
    grow the best length, so each start position is tried once."""
    best = 0
    for i in range(len(a)):
        while i + best < len(a) and a[i : i + best + 1] in b:
            best += 1
    return best


@dataclass(frozen=True)
class UnitCost:
    expected: float | None  # standard × quantity, 万元
    component: float | None  # the matching cost indicator, 万元
    row: int  # the standard's indicator row
    names: tuple[str, str, str]  # standard, quantity, cost
    tolerance: float = 0.0  # 万元: what the stated precision of standard and cost allows


def half_step(x: float | None) -> float:
    """Half a unit of the last digit as stated: 16.67 → 0.005, 100 → 0.5. A rounded number
    stands for anything within that distance."""
    if x is None or x != x:
        return 0.0
    text = repr(float(x))
    if "e" in text:
        return 0.0
    places = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0**-places


def unit_costs(rows: Sequence[Mapping[str, object]], targets: list[Target]) -> list[UnitCost]:
    """Per-unit standards (元/人, 万元/次 …) × the matching quantity vs the matching cost.

    Heuristic (reference/domain.md, identity 4): the quantity is a 数量指标 whose unit is the
    standard's denominator and whose name shares the most with the standard's name stem (at
    least 2 characters, a unique best); the cost is a money 成本指标 sharing at least 4.
    """
    out: list[UnitCost] = []
    names = [str(r.get("level3") or "") for r in rows]
    for i, (row, t) in enumerate(zip(rows, targets, strict=True)):
        if row.get("level1") != COST_LEVEL1 or t.number is None or t.unit.count("/") != 1:
            continue
        money, per = t.unit.split("/")
        if money not in ("元", "万元") or not per:
            continue
        stem = _STANDARD_SUFFIX.sub("", names[i]) or names[i]

        def best(candidates: list[int], floor: int, stem: str = stem) -> int | None:
            scored = sorted(((_lcs(stem, names[j]), j) for j in candidates), reverse=True)
            if not scored or scored[0][0] < floor or (len(scored) > 1 and scored[1][0] == scored[0][0]):
                return None
            return scored[0][1]

        qty = best(
            [
                j
                for j, (r, q) in enumerate(zip(rows, targets, strict=True))
                if r.get("level2") == "数量指标" and q.number is not None and q.unit == per
            ],
            2,
        )
        cost = best(
            [
                j
                for j, (r, c) in enumerate(zip(rows, targets, strict=True))
                if j != i
                and r.get("level1") == COST_LEVEL1
                and to_wan(c.number, c.unit) is not None
                and not TOTAL_COST.search(names[j])
            ],
            4,
        )
        if qty is None or cost is None:
            continue
        quantity = targets[qty].number or 0
        expected = to_wan(t.number * quantity, money)
        c = targets[cost]
        tolerance = (to_wan(half_step(t.number) * quantity, money) or 0.0) + (
            to_wan(half_step(c.number), c.unit) or 0.0
        )
        out.append(
            UnitCost(
                expected=expected,
                component=to_wan(c.number, c.unit),
                row=i,
                names=(names[i], names[qty], names[cost]),
                tolerance=round(tolerance, 9),
            )
        )
    return out


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


def derive(
    kind: str, fields: Mapping[str, object], tables: Mapping[str, Sequence[Mapping[str, object]]], targets: list[Target]
) -> dict[str, Derived]:
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


_LIST_SEPARATORS = "、，,；;/\n "
_GENERIC = frozenset({"", "经费", "项目", "资金", "项目经费", "专项经费", "专项资金", "相关经费", "其他"})
_JOINERS = "及和与"


def listed_projects(text: object, known: Sequence[str]) -> tuple[list[str], list[str]]:
    """The project names a task row's 对应的拟安排项目 lists: those of `known` (submitted or
    catalogued projects, matched longest first and whole, so that 非遗保护、宣传系列活动 stays
    one name), in the order written; then the rest split at 、，；及, as written."""
    if not isinstance(text, str) or not text.strip():
        return [], []
    rest = normalise(text)
    found: list[tuple[int, str]] = []
    for name in sorted({normalise(k) for k in known if k and k.strip()}, key=lambda k: (-len(k), k)):
        start = 0
        while (i := rest.find(name, start)) >= 0:
            j = i + len(name)
            before = i == 0 or rest[i - 1] in _LIST_SEPARATORS + _JOINERS
            after = j == len(rest) or rest[j] in _LIST_SEPARATORS + _JOINERS + "等"
            if before and after:
                found.append((i, name))
                rest = rest[:i] + "\x00" * len(name) + rest[j:]
                break
            start = i + 1
    leftovers = []
    for piece in re.split(r"[、，,；;/\n\x00]+|及", rest):
        piece = piece.strip().removesuffix("等").strip(" 。.")
        if piece and piece.lstrip("等") not in _GENERIC:  # “A、B等经费”: 等经费 names nothing
            leftovers.append(piece)
    return [name for _i, name in sorted(found)], leftovers
