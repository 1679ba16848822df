"""Read the published 2024 历下区 forms from the seed text, for tests.

The seed is ground truth: tests compare our specs, frames and capacities (and
later the samples) against it. Parsing is deliberately literal: what the PDF
extraction shows, nothing corrected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from perfxl.vocab import FRAMES

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_d9e93a8abecc67c6.txt"

DEPT_TITLE = "部门（单位）整体支出绩效目标申报表"
PROJECT_TITLE = "项目支出绩效目标表"

_LEVEL1 = {l1 for f in FRAMES.values() for l1 in f.level1()}
_LEVEL2 = {l2 for f in FRAMES.values() for _, l2 in f.pairs()} | {a for f in FRAMES.values() for a, _ in f.aliases}
_NUM = re.compile(r"^-?[\d,]+(\.\d+)?$")


@dataclass
class SeedForm:
    kind: str
    lines: list[str]
    name: str = ""
    indicators: list[tuple[str, str, str, str]] = field(default_factory=list)
    money: dict[str, float | None] = field(default_factory=dict)
    tasks: list[tuple[str, ...]] = field(default_factory=list)
    continued: list[int] = field(default_factory=list)  # task rows merged from two PDF lines


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("\t") if c.strip()]


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def forms() -> list[SeedForm]:
    out: list[SeedForm] = []
    for line in seed_text().splitlines():
        if line.strip() == DEPT_TITLE:
            out.append(SeedForm(kind="dept", lines=[]))
        elif line.strip() == PROJECT_TITLE:
            out.append(SeedForm(kind="project", lines=[]))
        elif out:
            out[-1].lines.append(line)
    for f in out:
        _parse(f)
    return out


def _parse(f: SeedForm) -> None:
    name_label = "部门名称" if f.kind == "dept" else "项目名称"
    for line in f.lines:
        cells = _cells(line)
        if cells[:1] == [name_label]:
            f.name = cells[1]
            break
    # indicators: everything after the first header row
    start = next(i for i, ln in enumerate(f.lines) if "一级指标" in ln)
    l1 = l2 = ""
    for line in f.lines[start:]:
        cells = _cells(line)
        if not cells or "一级指标" in cells:
            continue
        if cells[0] in ("绩效指标", "年度绩效指标"):
            cells = cells[1:]
        rest: list[str] = []
        for c in cells:
            if c in _LEVEL1 and not rest:
                l1, l2 = c, ""
            elif c in _LEVEL2 and not rest:
                l2 = c
            else:
                rest.append(c)
        f.indicators.append((l1, l2, rest[0] if rest else "", rest[1] if len(rest) > 1 else ""))
    if f.kind == "dept":
        _parse_dept_numbers(f)


_BUDGET_LABELS = {
    "其中：基本支出": "exp_basic", "项目支出": "exp_project", "其中：财政拨款": "src_fiscal",
    "其他资金": "src_other", "其中：运转类支出": "nat_operating",
    "特定目标类支出": "nat_specific", "其中：区（县）本级安排": "sp_local",
    "上级转移支付": "sp_transfer",
}  # fmt: skip


def _parse_dept_numbers(f: SeedForm) -> None:
    in_tasks = False
    for line in f.lines:
        cells = _cells(line)
        for i, c in enumerate(cells):
            if c in _BUDGET_LABELS:
                nxt = cells[i + 1] if i + 1 < len(cells) else ""
                f.money[_BUDGET_LABELS[c]] = _num(nxt) if _NUM.match(nxt) else None
        if cells[:1] == ["人员编制数（人）"]:
            f.money["staff_quota_prev"], f.money["staff_quota_curr"] = map(_num, cells[1:3])
        if cells[:1] == ["在职人员总数（人）"]:
            f.money["staff_actual_prev"], f.money["staff_actual_curr"] = map(_num, cells[1:3])
        if "对应的拟安排项目" in cells:
            in_tasks = True
            continue
        if in_tasks:
            if cells[:1] == ["合计"]:
                in_tasks = False
                continue
            if cells and cells[0] == "年度主要任务":
                cells = cells[1:]
            nums = [c for c in cells if _NUM.match(c)]
            if nums:
                f.tasks.append(tuple(cells))
            elif cells and f.tasks:
                # a cell that wrapped onto a second line in the PDF: text columns continue
                prev = list(f.tasks[-1])
                texts = [i for i, c in enumerate(prev) if not _NUM.match(c)]
                for i, extra in zip(texts, cells, strict=False):
                    prev[i] += extra
                f.tasks[-1] = tuple(prev)
                f.continued.append(len(f.tasks) - 1)
