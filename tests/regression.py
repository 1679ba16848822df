"""The checks' regression corpus (issue 15): one injected error per form, of every content
class the checks cover, and clean forms with legitimately unusual content.

Generated, never hand-edited: each case is a clean base (four seed project forms without
findings, and 民政局 with its seed problems repaired) plus one change, with a deterministic
random choice of which row it hits. `python tests/regression.py OUT` writes the corpus as
workbooks (for looking at them); the tests fill them in a temporary folder.

A case lists the error and warning finding ids its change must produce, and nothing else
may appear: recall (each listed id found) and no cascades (no other error or warning).
Some cases are typed through LibreOffice instead of filled (`typed`: the text a person
types at the keyboard into one cell).

File and template classes (damaged packages, changed labels, old templates) have their own
corpora: samples/bad/ and tests/hostile/.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfxl.data import FormData

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "samples" / "data"
PROJECTS = {
    "P1": "项目支出_01_妇女儿童工作专项经费",
    "P2": "项目支出_02_党校专项业务经费",
    "P4": "项目支出_04_政务大厅运行经费",
    "P9": "项目支出_09_文旅专项业务经费",
}
DEPT = "部门整体_02_济南市历下区民政局"

Change = Callable[[FormData, random.Random], None]


@dataclass(frozen=True)
class Case:
    name: str  # file stem: class and variant
    base: str  # P1 P2 P4 P9 (projects) or D (department)
    change: Change
    expect: frozenset[str]  # exactly the error/warning ids this change must produce
    typed: tuple[str, int, str, str] | None = None  # (table, row, column, text) typed in LibreOffice


def load(stem: str) -> FormData:
    return FormData.from_json(json.loads((DATA / f"{stem}.json").read_text(encoding="utf-8")))


def clean_dept() -> FormData:
    """民政局 without its seed problems: the tasks add up to 项目支出, every target has its sign."""
    d = load(DEPT)
    tasks = d.tables["tasks"]
    gap = float(d.fields["exp_project"]) - sum(float(t["budget"] or 0) for t in tasks)  # type: ignore[arg-type]
    tasks[0]["budget"] = float(tasks[0]["budget"]) + gap  # type: ignore[arg-type]
    tasks[0]["fiscal"] = float(tasks[0]["fiscal"] or 0) + gap  # type: ignore[arg-type]
    for row in d.tables["indicators"]:
        if row["op"] is None:
            row["op"] = "＝"
    return d


def base(name: str) -> FormData:
    return clean_dept() if name == "D" else load(PROJECTS[name])


# ----- where a change lands ----------------------------------------------------------------


def rows(d: FormData, pred: Callable[[dict[str, Any]], bool]) -> list[int]:
    return [i for i, r in enumerate(d.tables["indicators"]) if pred(r)]


def numeric(unit: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def pred(r: dict[str, Any]) -> bool:
        return isinstance(r["value"], (int, float)) and r["op"] != "定性" and (unit is None or r["unit"] == unit)

    return pred


def pick(d: FormData, rnd: random.Random, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return d.tables["indicators"][rnd.choice(rows(d, pred))]


def not_cost(r: dict[str, Any]) -> bool:
    return r["level1"] not in ("成本指标",) and numeric()(r)


def set_target(**kw: Any) -> Change:
    """One indicator (not a cost one: those feed the cost sums) gets these cells."""

    def change(d: FormData, rnd: random.Random) -> None:
        pick(d, rnd, not_cost).update(kw)

    return change


def set_percent(**kw: Any) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        pick(d, rnd, lambda r: numeric("%")(r) and r["level1"] != "成本指标").update(kw)

    return change


def fields(**kw: Any) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        d.fields.update(kw)

    return change


def bump(field: str, by: float) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        d.fields[field] = round(float(d.fields[field] or 0) + by, 2)  # type: ignore[arg-type]

    return change


def task(col: str, by: float, also: str | None = None) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        row = rnd.choice(d.tables["tasks"])
        for c in (col, also) if also else (col,):
            row[c] = round(float(row[c] or 0) + by, 2)  # type: ignore[arg-type]

    return change


def cost_component(by: float) -> Change:
    """A cost component changes, the total cost indicator does not."""

    def change(d: FormData, rnd: random.Random) -> None:
        r = pick(d, rnd, lambda r: r["level1"] == "成本指标" and r["unit"] == "万元" and "总成本" not in r["level3"])
        r["value"] = round(float(r["value"]) + by, 2)

    return change


def cost_total_over_budget(d: FormData, rnd: random.Random) -> None:
    """项目总成本 and one component both rise: the components still add up, the budget is exceeded."""
    total = pick(d, rnd, lambda r: r["level1"] == "成本指标" and "总成本" in r["level3"])
    part = pick(d, rnd, lambda r: r["level1"] == "成本指标" and r["unit"] == "万元" and "总成本" not in r["level3"])
    total["value"] = float(total["value"]) + 10
    part["value"] = float(part["value"]) + 10


def in_yuan(d: FormData, rnd: random.Random) -> None:
    """The whole money part of a project typed in 元 in 万元 cells (the cost indicators kept 万元)."""
    for f in ("total", "fiscal", "carryover", "other"):
        d.fields[f] = float(d.fields[f] or 0) * 10_000  # type: ignore[arg-type]


def tasks_in_yuan(n: int) -> Change:
    """The n largest task rows in 元 (a small one is 10,000× of little: only the total says so)."""

    def change(d: FormData, rnd: random.Random) -> None:
        for row in sorted(d.tables["tasks"], key=lambda t: -float(t["budget"] or 0))[:n]:  # type: ignore[arg-type]
            for c in ("budget", "fiscal", "other"):
                row[c] = float(row[c] or 0) * 10_000  # type: ignore[arg-type]

    return change


def costs_in_yuan(d: FormData, rnd: random.Random) -> None:
    """The cost indicators in 元 with 万元 as their unit."""
    for r in d.tables["indicators"]:
        if r["level1"] == "成本指标" and r["unit"] == "万元":
            r["value"] = float(r["value"]) * 10_000


def training(standard: float) -> Change:
    """Six training sessions costing 100 万元 added to the project (budget and total cost too),
    with a per-session standard: 16.67 万元/场 is 100 ÷ 6 as stated, 20 is wrong."""

    def change(d: FormData, rnd: random.Random) -> None:
        ind = d.tables["indicators"]
        cost = {"level1": "成本指标", "level2": "经济成本指标"}
        total = next(r for r in ind if "总成本" in r["level3"])
        total["value"] = float(total["value"]) + 100
        d.fields["total"] = float(d.fields["total"]) + 100  # type: ignore[arg-type]
        d.fields["fiscal"] = float(d.fields["fiscal"]) + 100  # type: ignore[arg-type]
        at = max(i for i, r in enumerate(ind) if r["level1"] == "成本指标") + 1
        ind[at:at] = [
            {**cost, "level3": "专题培训成本", "op": "≤", "value": 100, "unit": "万元"},
            {**cost, "level3": "专题培训单位成本标准", "op": "＝", "value": standard, "unit": "万元/场"},
        ]
        out = max(i for i, r in enumerate(ind) if r["level2"] == "数量指标") + 1
        ind.insert(
            out,
            {
                "level1": "产出指标",
                "level2": "数量指标",
                "level3": "专题培训场次",
                "op": "＝",
                "value": 6,
                "unit": "场",
            },
        )

    return change


def drop_level1(level1: str) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        d.tables["indicators"] = [r for r in d.tables["indicators"] if r["level1"] != level1]

    return change


def level_pair(d: FormData, rnd: random.Random) -> None:
    r = pick(d, rnd, lambda r: r["level1"] == "产出指标")
    r["level2"] = "经济成本指标" if d.kind == "project" else "履职效益"


def _e(*ids: str) -> frozenset[str]:
    return frozenset(ids)


P = ("P1", "P2", "P4", "P9")


def cases() -> list[Case]:
    """Every injected case, in a fixed order."""
    out: list[Case] = []

    def add(cls: str, bases: tuple[str, ...], change: Change, *ids: str) -> None:
        for b in bases:
            out.append(Case(f"{cls}_{b}", b, change, _e(*(ids or (cls,)))))

    # ----- one cell's value
    add("value.malformed_number", ("P1", "P4", "D"), set_target(value="1OO"))
    add("value.malformed_number.dot", ("P2", "P9", "D"), set_target(value="95.5.0"), "value.malformed_number")
    add("value.malformed_number.comma", ("P1", "D"), set_target(value="2,40"), "value.malformed_number")
    add("value.not_a_number", ("P1", "P2"), fields(fiscal="约8"))
    add("value.not_a_number.dept", ("D",), fields(exp_basic="待定"), "value.not_a_number")
    add("value.not_a_number.task", ("D",), task_text("budget", "八十"), "value.not_a_number")
    add("value.unit_in_amount", ("P4", "P9"), fields(other="5000元"))
    add("value.unit_in_amount.dept", ("D",), fields(src_other="3000元"), "value.unit_in_amount")
    add("value.negative", ("P1", "P9", "D"), set_target(value=-5))
    add("value.no_unit", ("P1", "P2", "D"), set_target(unit=None))
    add("value.no_operator", ("P4", "P9", "D"), set_target(op=None))
    add("value.unit_incomplete", ("P1", "P2", "D"), set_target(unit="/人"))
    add("value.percent_over_100", ("P1", "P4", "D"), set_percent(value=120))
    add("value.placeholder", ("P2", "P9", "D"), set_target(op=None, value="待定", unit=None))
    add("value.op_conflict", ("P1", "P9", "D"), set_percent(op="≥", value="≤90%", unit=None))
    add("value.empty", ("P1", "P4", "D"), set_target(value="  "))  # blanks typed: the schema's required
    add("schema.required.target", ("P1", "P9", "D"), set_target(value=None), "schema.required")
    add("value.too_precise", ("P1", "P2", "D"), task_or_field_precise(), "value.too_precise")
    # ----- required fields, lists, lengths
    add("schema.required", ("P1", "P9"), fields(implementer=None))
    add("schema.required.dept", ("D",), fields(contact=None), "schema.required")
    add("schema.choice", ("P1", "P2", "P4"), fields(category="专项类"))
    add("schema.too_long", ("P2", "P4", "D"), too_long(), "schema.too_long")
    add("schema.phone", ("D",), fields(phone="8815"), "schema.phone")
    add("schema.phone.letters", ("D",), fields(phone="电话88151213x"), "schema.phone")
    add("schema.phone.short", ("D",), fields(phone="12"), "schema.phone")
    add("schema.level_pair", ("P1", "P9", "D"), level_pair)
    add("project.indicators.level1_missing", ("P1", "P2", "P4"), drop_level1("满意度指标"))
    for level1 in ("投入管理指标", "产出指标", "效果指标"):
        ids = ("dept.indicators.level1_missing", *(("library.missing",) if level1 == "投入管理指标" else ()))
        add(f"dept.indicators.level1_missing.{level1}", ("D",), drop_level1(level1), *ids)
    # ----- the district's common indicators
    for name, target in (("结转结余率", {"value": 15}), ("政府采购执行率", {"op": "≥", "value": 90}),
                         ("预算管理制度健全性", {"value": "基本健全"})):  # fmt: skip
        add(f"library.deviation.{name}", ("D",), common_row(name, **target), "library.deviation")
        add(f"library.missing.{name}", ("D",), drop_common(name), "library.missing")
    # ----- the form's own sums
    add("project.funds.total", ("P1", "P2", "P4"), bump("fiscal", -3))
    for by in (10, -20, 0.5):
        add(f"dept.budget.use_vs_source.{by:g}", ("D",), bump("exp_basic", by), "dept.budget.use_vs_source")
        add(f"dept.budget.nature_vs_project.{by:g}", ("D",), bump("nat_specific", by), "dept.budget.nature_vs_project")
        add(f"dept.budget.special_vs_project.{by:g}", ("D",), bump("sp_local", by), "dept.budget.special_vs_project")
        add(f"dept.tasks.row_sum.{by:g}", ("D",), task("fiscal", by), "dept.tasks.row_sum")
        add(f"dept.tasks.total_vs_project.{by:g}", ("D",), task("budget", by, "fiscal"), "dept.tasks.total_vs_project")
        add(f"dept.staff.curr.{by:g}", ("D",), staff(by), "dept.staff.curr")
    for n in (1, 2, -1):
        add(f"dept.counts.units.{n}", ("D",), bump("units_count", n), "dept.counts.units")
        add(f"dept.counts.depts.{n}", ("D",), bump("depts_count", n), "dept.counts.depts")
    add("project.cost.components_vs_total", ("P1", "P2", "P4"), cost_component(3))
    add("project.cost.total_vs_budget", ("P1", "P2", "P9"), cost_total_over_budget)
    add("project.cost.unit_standard", ("P2", "P4"), training(20))
    add("project.cost.unit_standard.low", ("P1", "P9"), training(15), "project.cost.unit_standard")
    add("project.scale.cost_vs_budget", ("P1", "P2", "P4"), in_yuan)
    add("project.scale.budget_vs_cost", ("P1", "P4", "P9"), costs_in_yuan, "project.scale.budget_vs_cost",
        "project.cost.total_vs_budget")  # fmt: skip
    for n in (1, 2, 3):
        add(f"dept.scale.task_vs_project.{n}", ("D",), tasks_in_yuan(n), "dept.scale.task_vs_project",
            "dept.tasks.total_vs_project")  # fmt: skip
    # ----- typed in LibreOffice, as a person types
    for b, text in (("P1", "1OO"), ("P4", "95.5.0"), ("D", "2,40")):
        out.append(
            Case(
                f"typed.malformed_number_{b}",
                b,
                nothing,
                _e("value.malformed_number"),
                ("indicators", -1, "value", text),
            )
        )
    out.append(Case("typed.not_a_number_P2", "P2", nothing, _e("value.not_a_number"), ("", 0, "fiscal", "约8")))
    return out


def common_row(name: str, **kw: Any) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        next(r for r in d.tables["indicators"] if r["level3"] == name).update(kw)

    return change


def drop_common(name: str) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        d.tables["indicators"] = [r for r in d.tables["indicators"] if r["level3"] != name]

    return change


def nothing(d: FormData, rnd: random.Random) -> None:
    pass


def task_text(col: str, text: str) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        rnd.choice(d.tables["tasks"])[col] = text

    return change


def task_or_field_precise() -> Change:
    """An amount with a third decimal, kept consistent with its sum (so only precision is wrong)."""

    def change(d: FormData, rnd: random.Random) -> None:
        if d.kind == "project":
            d.fields["fiscal"] = float(d.fields["fiscal"]) - 0.004  # type: ignore[arg-type]
            d.fields["other"] = 0.004
        else:
            d.fields["exp_basic"] = float(d.fields["exp_basic"]) + 0.004  # type: ignore[arg-type]
            d.fields["src_fiscal"] = float(d.fields["src_fiscal"]) + 0.004  # type: ignore[arg-type]

    return change


def too_long() -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        key = "implementer" if d.kind == "project" else "contact"
        d.fields[key] = str(d.fields[key]) * 11  # past 100 (实施单位) or 20 (联系人) characters

    return change


def staff(by: float) -> Change:
    def change(d: FormData, rnd: random.Random) -> None:
        d.fields["staff_actual_curr"] = int(d.fields["staff_quota_curr"]) + max(1, int(abs(by)))  # type: ignore[arg-type]

    return change


# ----- clean forms with unusual content ------------------------------------------------------


def clean_cases() -> list[tuple[str, str, Change]]:
    """(name, base, change): each must give no error and no warning."""

    def qualitative(d: FormData, rnd: random.Random) -> None:
        for r in d.tables["indicators"]:
            if r["level1"] in ("效益指标", "效果指标") and numeric("%")(r):
                r.update(op="定性", value="明显提升", unit=None)

    def carryover(d: FormData, rnd: random.Random) -> None:
        d.fields["carryover"] = 5.5
        d.fields["fiscal"] = round(float(d.fields["fiscal"]) - 5.5, 2)  # type: ignore[arg-type]

    def zero_other(d: FormData, rnd: random.Random) -> None:
        if d.kind == "project":
            d.fields.update(carryover=0, other=0)
        else:
            d.fields.update(src_other=0, sp_transfer=0, nat_operating=0)

    def full_width(d: FormData, rnd: random.Random) -> None:
        table = str.maketrans("0123456789.", "０１２３４５６７８９．")
        key = "total" if d.kind == "project" else "exp_basic"
        d.fields[key] = f"{d.fields[key]:g}".translate(table)

    def one_cell(d: FormData, rnd: random.Random) -> None:
        for r in d.tables["indicators"]:
            if numeric("%")(r) and r["op"] in ("≥", "＝", "≤"):
                r.update(value=f"{r['op']}{r['value']}%", op=None, unit=None)

    def separators(d: FormData, rnd: random.Random) -> None:
        key = "total" if d.kind == "project" else "exp_project"
        d.fields[key] = f"{float(d.fields[key]):,.2f}"  # type: ignore[arg-type]

    def large(d: FormData, rnd: random.Random) -> None:
        if d.kind == "project":  # a large project: budget and its cost indicators together
            k = 1_234.5
            for f in ("total", "fiscal"):
                d.fields[f] = round(float(d.fields[f]) * k, 2)  # type: ignore[arg-type]
            for r in d.tables["indicators"]:
                if r["level1"] == "成本指标" and r["unit"] == "万元":
                    r["value"] = round(float(r["value"]) * k, 2)
        else:
            for r in d.tables["indicators"]:
                if numeric()(r) and r["unit"] in ("人次", "个", "处"):
                    r["value"] = float(r["value"]) * 1000

    def name_with_comma(d: FormData, rnd: random.Random) -> None:
        d.fields["project_name"] = "非遗保护、宣传系列活动（二期）"

    def zero_cost_row(d: FormData, rnd: random.Random) -> None:
        ind = d.tables["indicators"]
        at = max(i for i, r in enumerate(ind) if r["level1"] == "成本指标") + 1
        row = {
            "level1": "成本指标",
            "level2": "社会成本指标",
            "level3": "社会成本",
            "op": "＝",
            "value": 0,
            "unit": "万元",
        }
        ind.insert(at, row)

    def new_unit(d: FormData, rnd: random.Random) -> None:
        r = pick(d, rnd, lambda r: numeric()(r) and r["unit"] == "个")
        r["unit"] = "台"

    def common_names_retyped(d: FormData, rnd: random.Random) -> None:
        for r in d.tables["indicators"]:
            if r["level3"] == "“三公经费”变动率":
                r["level3"] = '"三公经费" 变动率'
            if r["level3"] == "结转结余率":
                r["level3"] = "结转结余率 "

    def spaces(d: FormData, rnd: random.Random) -> None:
        for r in d.tables["indicators"]:
            if numeric("%")(r):
                r["value"] = f" {r['value']} "

    out: list[tuple[str, str, Change]] = []
    for b in ("P1", "P2", "P4", "P9"):
        out.append((f"clean.as_is_{b}", b, nothing))
    for b in ("P1", "P9", "D"):
        out.append((f"clean.qualitative_{b}", b, qualitative))
        out.append((f"clean.full_width_{b}", b, full_width))
        out.append((f"clean.one_cell_targets_{b}", b, one_cell))
        out.append((f"clean.separators_{b}", b, separators))
        out.append((f"clean.zero_amounts_{b}", b, zero_other))
    out += [
        ("clean.as_is_D", "D", nothing),
        ("clean.carryover_P1", "P1", carryover),
        ("clean.carryover_P4", "P4", carryover),
        ("clean.large_P2", "P2", large),
        ("clean.large_D", "D", large),
        ("clean.name_with_comma_P1", "P1", name_with_comma),
        ("clean.two_decimal_standard_P1", "P1", training(16.67)),
        ("clean.two_decimal_standard_P9", "P9", training(16.67)),
        ("clean.exact_standard_P4", "P4", training(100 / 6)),
        ("clean.zero_cost_row_P2", "P2", zero_cost_row),
        ("clean.new_unit_D", "D", new_unit),
        ("clean.common_names_retyped_D", "D", common_names_retyped),
        ("clean.spaces_P4", "P4", spaces),
    ]
    return out


def build(name: str, base_name: str, change: Change) -> FormData:
    d = copy.deepcopy(base(base_name))
    change(d, random.Random(f"perfxl-15:{name}"))
    return d


def write_all(folder: Path) -> list[Path]:
    from perfxl.exchange import fill_file

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for c in cases():
        if c.typed is None:
            out.append(fill_file(build(c.name, c.base, c.change), folder / f"{c.name}.xlsx"))
    for name, b, change in clean_cases():
        out.append(fill_file(build(name, b, change), folder / f"{name}.xlsx"))
    return out


if __name__ == "__main__":  # pragma: no cover
    print(len(write_all(Path(sys.argv[1]))), "files")


# ----- several forms: task rows that list several projects, names with 、 -------------------


def project_form(name: str, competent: str, total: float) -> FormData:
    """The clean 妇女儿童 project renamed and resized: budget and cost indicators scaled
    together (its five cost components add up to its 80 万元 total cost at any scale)."""
    d = load(PROJECTS["P1"])
    k = total / 80
    d.fields.update(project_name=name, competent=competent, implementer=competent, total=total, fiscal=total)
    for r in d.tables["indicators"]:
        if r["level1"] == "成本指标" and r["unit"] == "万元":
            r["value"] = round(float(r["value"]) * k, 4)
    return d


def district(forms: dict[str, float] | None = None) -> dict[str, FormData]:
    """民政局 (clean) and three of its projects: row 2 lists two of them (社区办公运行、采购社工服务等经费,
    16,232 万元 = 16,000 + 232), row 4 one whose name holds 、 (70 万元)."""
    d = clean_dept()
    d.tables["tasks"][3]["projects"] = "地名管理、路名牌维护经费"
    competent = str(d.fields["dept_name"])
    sizes = {"社区办公运行": 16_000.0, "采购社工服务": 232.0, "地名管理、路名牌维护经费": 70.0, **(forms or {})}
    return {"民政局": d, **{name: project_form(name, competent, t) for name, t in sizes.items()}}
