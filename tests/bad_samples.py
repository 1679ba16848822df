"""samples/bad/: the mistakes departments really make, and what each must produce.

Each case starts from a clean sample (妇女儿童工作专项经费 has no findings; 民政局's
are known), applies one mistake, and lists the exact (sheet, cell, rule)
findings `perfxl check --year 2024` must report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perfxl.data import FormData
from perfxl.exchange import fill_file

CLEAN_PROJECT = "项目支出_01_妇女儿童工作专项经费"
DEPT = "部门整体_02_济南市历下区民政局"
DEPT_BASE = [
    ("年度主要任务", "E34", "dept.tasks.total_vs_project"),
    *[("年度绩效指标", f"E{r}", "value.no_operator") for r in (6, 7, 8, 9, 10, 19)],
]


@dataclass
class Case:
    name: str  # file name in samples/bad/, says what is wrong
    base: str
    change: Callable[[FormData], None]
    expected: list[tuple[str, str, str]]
    year: int = 2024
    after: Callable[[Path], None] | None = None  # edits only Excel can make (unprotect, relabel)
    notes: list[str] = field(default_factory=list)


def _ind(row: int, **kw: object) -> Callable[[FormData], None]:
    def change(d: FormData) -> None:
        d.tables["indicators"][row].update(kw)  # type: ignore[arg-type]

    return change


def _fields(**kw: object) -> Callable[[FormData], None]:
    def change(d: FormData) -> None:
        d.fields.update(kw)  # type: ignore[arg-type]

    return change


def _relabel(path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["项目支出"]
    ws.protection.sheet = False  # someone removed the protection (the password is no secret)
    ws["C3"] = "类别"
    wb.save(path)


def _task_row(d: FormData) -> None:
    d.tables["tasks"][0]["fiscal"] = 2600.0  # 2,613.00 = 2,600.00 + 0.00 no longer holds


CASES: list[Case] = [
    Case("01_二级指标不属于一级指标", CLEAN_PROJECT, _ind(7, level2="经济成本指标"),
         [("绩效指标", "C11", "schema.level_pair")]),
    Case("02_缺少计量单位", CLEAN_PROJECT, _ind(7, unit=None), [("绩效指标", "F11", "value.no_unit")]),
    Case("03_满意度120%", CLEAN_PROJECT, _ind(16, value=120), [("绩效指标", "F20", "value.percent_over_100")]),
    Case("04_资金来源合计不等于总额", CLEAN_PROJECT, _fields(fiscal=30.0),
         [("项目支出", "C5", "project.funds.total")]),
    Case("05_金额栏填了文字", CLEAN_PROJECT, _fields(fiscal="八十万元"),
         [("项目支出", "C6", "value.not_a_number")]),  # once: the total-vs-sources rule is 无法校验
    Case("06_必填项为空", CLEAN_PROJECT, _fields(category=None, implementer=None, goal=None),
         [("项目支出", "D3", "schema.required"), ("项目支出", "D4", "schema.required"),
          ("项目支出", "B10", "schema.required")]),
    Case("07_取消保护后改了栏目文字", CLEAN_PROJECT, _fields(), [
        ("项目支出", "C3", "template.label_changed"), ("项目支出", "", "template.unprotected")],
         after=_relabel),
    Case("08_用了2023年度的模板", CLEAN_PROJECT, _fields(), [("_meta", "", "template.year")], year=2023),
    Case("09_任务行预算资金不等于分项之和", DEPT, _task_row,
         [*DEPT_BASE, ("年度主要任务", "E4", "dept.tasks.row_sum")]),
]  # fmt: skip


def build_bad(out: Path, data_dir: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.xlsx"):
        old.unlink()
    paths = []
    for case in CASES:
        data = FormData.from_json(json.loads((data_dir / f"{case.base}.json").read_text(encoding="utf-8")))
        data.year = case.year
        case.change(data)
        path = fill_file(data, out / f"{case.name}.xlsx")
        if case.after:
            case.after(path)
        paths.append(path)
    return paths
