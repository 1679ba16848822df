"""Seed forms → FormData, for filling templates in tests.

Amounts, tables and targets are taken literally from the seed; the long text
sections are picked up line by line (good enough for checks: the samples issue
transcribes every text field exactly).
"""

from __future__ import annotations

import re

from seed import SeedForm, _cells, forms

from perfxl.data import FormData, Value
from perfxl.values import parse_target
from perfxl.vocab import QUALITATIVE


def target_cells(target: str) -> dict[str, Value]:
    """A seed target string → the template's 符号 / 数值 / 单位 cells, as a user types them."""
    t = parse_target(target)
    if not target.strip():
        return {"op": None, "value": None, "unit": None}
    if t.qualitative:
        return {"op": QUALITATIVE, "value": t.text, "unit": None}
    number: Value = t.number
    if any(p.code == "malformed_number" for p in t.problems):
        number = re.sub(r"^\D*", "", target).split(" ")[0]  # keep "000" as typed
    elif t.number is not None and t.number.is_integer():
        number = int(t.number)
    return {"op": t.op, "value": number, "unit": t.unit or None}


def paragraphs(cell: str) -> list[str]:
    """The PDF text keeps the form's HTML paragraphs as <p>…</p>: one item each."""
    parts = re.split(r"</p>\s*<p>", cell)
    return [re.sub(r"</?p>", "", p).strip() for p in parts if re.sub(r"</?p>", "", p).strip()]


def _after(lines: list[str], label: str) -> str:
    for line in lines:
        cells = _cells(line)
        if cells and cells[0] == label and len(cells) > 1:
            return cells[1]
    return ""


def _pairs(lines: list[str], start: str, stop: tuple[str, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    on = False
    for line in lines:
        cells = _cells(line)
        if not cells:
            continue
        if (cells[0] in stop or (on and any(cells[0].startswith(s) for s in stop))) and on:
            break
        if cells[0] == start or cells[0].startswith(start):
            on = True
            cells = cells[1:]
        if not on:
            continue
        for cell in cells:
            for c in paragraphs(cell):
                if "：" in c and not c.startswith(("本部门", "职能依据", "部门职能")):
                    name, text = c.split("：", 1)
                    out.append((name.strip(), text.strip()))
    return out


def dept_data(f: SeedForm) -> FormData:
    lines = f.lines
    fields: dict[str, Value] = {k: v for k, v in f.money.items()}
    for k in ("staff_quota_prev", "staff_quota_curr", "staff_actual_prev", "staff_actual_curr"):
        fields[k] = int(fields[k])  # type: ignore[arg-type]
    fields["dept_name"] = f.name
    for line in lines:
        cells = _cells(line)
        if cells[:1] == ["联系人"]:
            fields["contact"], fields["phone"] = cells[1], cells[3]
        for c in cells:
            m = re.match(r"直属单位 (\d+) 个，包括：(.*)", c)
            if m:
                fields["units_count"], fields["units_list"] = int(m.group(1)), m.group(2).strip()
            m = re.match(r"内设职能部门 (\d+) 个，包括：(.*)", c)
            if m:
                fields["depts_count"], fields["depts_list"] = int(m.group(1)), m.group(2).strip()
            if c.startswith("本部门的核心职能为："):
                fields["core_functions"] = c.split("：", 1)[1]
        if cells and cells[0].startswith("直属单位一并纳入"):
            fields["units_in_scope"] = cells[-1]
        if cells[:1] == ["部门战略目标"]:
            fields["strategy"] = "\n".join(paragraphs(" ".join(cells[1:])))
    basis = next(i for i, ln in enumerate(lines) if "职能依据" in ln)
    fields["legal_basis"] = _cells(lines[basis + 1])[-1]
    functions = _pairs(lines, "部门职能", ("部门战略目标",))
    goals = _pairs(lines, "年度绩效目标", ("部门基本信息",))
    tasks = []
    for task in f.tasks:
        texts = [t for t in task if not re.fullmatch(r"[\d,]+\.\d+", t)]
        nums = [float(t.replace(",", "")) for t in task[len(texts) :]]
        row: dict[str, Value] = dict(zip(("function", "task", "projects"), texts, strict=False))
        row.update(zip(("budget", "fiscal", "other"), nums, strict=False))
        tasks.append(row)
    return FormData(
        kind="dept",
        year=2024,
        fields=fields,
        tables={
            "functions": [{"name": a, "description": b} for a, b in functions],
            "annual_goals": [{"function": a, "goal": b} for a, b in goals],
            "tasks": tasks,
            "indicators": _indicators(f),
        },
    )


def _indicators(f: SeedForm) -> list[dict[str, Value]]:
    return [{"level1": a, "level2": b, "level3": c or None, **target_cells(t)} for a, b, c, t in f.indicators]


def project_data(f: SeedForm) -> FormData:
    lines = f.lines
    fields: dict[str, Value] = {"project_name": f.name}
    for line in lines:
        cells = _cells(line)
        if cells[:1] == ["项目名称"]:
            fields["category"] = cells[3]
        if cells[:1] == ["主管部门"]:
            fields["competent"], fields["implementer"] = cells[1], cells[3]
        for c, key in (
            ("年度预算资金总额", "total"),
            ("财政拨款", "fiscal"),
            ("上年结转资金", "carryover"),
            ("其他资金", "other"),
        ):
            label = next((x for x in cells if x.rstrip(":：").endswith(c)), None)
            if label and key not in fields:
                fields[key] = float(cells[cells.index(label) + 1].replace(",", ""))
    fields["goal"] = _after(lines, "年度总体绩效目标")
    return FormData(kind="project", year=2024, fields=fields, tables={"indicators": _indicators(f)})


def seed_data() -> dict[str, FormData]:
    """Every seed form by entity name."""
    return {f.name: dept_data(f) if f.kind == "dept" else project_data(f) for f in forms()}
