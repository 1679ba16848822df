"""Templates in LibreOffice Calc (our stand-in for Excel/WPS), driven over UNO.

Opens each template as a user would, checks protection holds when typing,
validation lists resolve, and that totals and ✓/✗ self-checks compute the same
results as the Python rules on the seed's real numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lo
import pytest
from seed import forms

from perfxl.forms import get_spec
from perfxl.layout import LOCKED_ROLES, Layout, build_layout
from perfxl.package import INSTRUCTIONS_SHEET
from perfxl.rules import evaluate, result_text, rules_for
from perfxl.template import DEFAULT_PASSWORD, fixed_common_cells
from perfxl.vocab import UNITS

pytestmark = pytest.mark.libreoffice


def a1(row: int, col: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return str(xl_rowcol_to_cell(row, col))


def field_cell(layout: Layout, fid: str) -> list[str]:
    sheet, r, c = layout.fields[fid]
    return [sheet, a1(r, c)]


@pytest.mark.parametrize("kind", ["dept", "project"])
def test_opens_protected_and_typing_respects_locks(kind: str, template_files: dict) -> None:
    layout = build_layout(get_spec(kind), 2024)
    cells = layout.cells()
    roles = [[c.sheet, c.ref] for c in cells]
    label = next(c for c in cells if c.role == "label")
    total = next(c for c in cells if c.role == "total")
    check = next(c for c in cells if c.role == "check")
    text_input = next(c for c in cells if c.role == "input" and c.field and c.type.value == "text")
    report = lo.probe(
        template_files[kind],
        [
            {"op": "sheets"},
            {"op": "locked", "cells": roles},
            {"op": "type", "cells": [[text_input.sheet, text_input.ref, "测试单位"]]},
            {"op": "print_ranges"},
            {"op": "recalc"},
            {"op": "read", "cells": [[c.sheet, c.ref] for c in cells if c.role == "check"]},
        ],
    )
    assert report["loaded"]
    sheets, locked, typed, prints, _, blank_checks = report["steps"]
    # an empty form shows no ✓ and no ✗ (one typed name does not trigger any rule)
    assert {v["string"] for v in blank_checks.values()} == {""}
    # headless LibreOffice 7.4 dies on a second refused edit in one session (its
    # error box cannot show), so each further locked cell gets a session of its own
    for c, text in ((label, "改了"), (total, "1"), (check, "✓")):
        typed.update(lo.probe(template_files[kind], [{"op": "type", "cells": [[c.sheet, c.ref, text]]}])["steps"][0])
    visible = [s["name"] for s in sheets["sheets"] if s["visible"]]
    assert visible == [*[s.name for s in get_spec(kind).sheets], INSTRUCTIONS_SHEET]
    assert all(s["protected"] for s in sheets["sheets"])
    fixed = fixed_common_cells(get_spec(kind), 2024)  # the common indicators: names and standards locked
    for c in cells:
        want = c.role in LOCKED_ROLES or (c.sheet, c.ref) in fixed
        assert locked[f"{c.sheet}!{c.ref}"] == want, (c.sheet, c.ref, c.role)
    # typing into locked cells changes nothing; inputs take the text
    assert typed[f"{label.sheet}!{label.ref}"]["after"] == label.text
    assert typed[f"{total.sheet}!{total.ref}"]["after"] == typed[f"{total.sheet}!{total.ref}"]["before"]
    assert typed[f"{check.sheet}!{check.ref}"]["after"] == ""
    assert typed[f"{text_input.sheet}!{text_input.ref}"]["after"] == "测试单位"
    for sl in layout.sheets:
        if sl.repeat_row is not None:
            assert prints[sl.spec.name]["title_rows"] == [sl.repeat_row, sl.repeat_row]


@pytest.mark.parametrize(("kind", "level1", "level2s"), [
    ("dept", "产出指标", ["职责履行"]),
    ("dept", "投入管理指标", ["预算配置", "预算编制", "预算执行", "财务管理", "资产管理"]),
    ("project", "效益指标", ["经济效益指标", "社会效益指标", "生态效益指标", "可持续发展影响指标"]),
])  # fmt: skip
def test_validation_lists_resolve(kind: str, level1: str, level2s: list[str], template_files: dict) -> None:
    layout = build_layout(get_spec(kind), 2024)
    pos = layout.tables["indicators"]
    # LibreOffice reports a validation formula relative to the range's first cell
    row = pos.first_row
    l1, l2 = a1(row, pos.col("level1")), a1(row, pos.col("level2"))
    op, unit = a1(row, pos.col("op")), a1(row, pos.col("unit"))
    s = pos.sheet
    first = report_validation = lo.probe(
        template_files[kind],
        [
            {"op": "validation", "cells": [[s, l1], [s, l2], [s, op], [s, unit]]},
        ],
    )["steps"][0]
    assert {v["type"] for v in first.values()} == {"LIST"}
    assert report_validation[f"{s}!{unit}"]["error_style"] == "INFO"  # other units allowed
    f2 = report_validation[f"{s}!{l2}"]["formula1"]
    scratch = a1(row, 10)  # same row, so the relative 一级 reference still points at it
    n = len(level2s)
    steps: list[dict[str, Any]] = [
        {"op": "unprotect", "password": DEFAULT_PASSWORD},
        {"op": "set", "cells": [[s, l1, level1]]},
        {
            "op": "formula",
            "cells": [
                [s, scratch, f"=ROWS({f2})"],
                *[[s, a1(row, 11 + i), f"=INDEX({f2};{i + 1})"] for i in range(n)],
                [s, a1(row, 20), "=ROWS(lst_units)"],
                [s, a1(row, 21), "=INDEX(lst_ops;6)"],
                [s, a1(row, 22), "=ROWS(lst_level1)"],
            ],
        },
    ]
    res = lo.probe(template_files[kind], steps)["steps"][2]
    assert res[f"{s}!{scratch}"]["value"] == n
    assert [res[f"{s}!{a1(row, 11 + i)}"]["string"] for i in range(n)] == level2s
    assert res[f"{s}!{a1(row, 20)}"]["value"] == len(UNITS)
    assert res[f"{s}!{a1(row, 21)}"]["string"] == "定性"
    assert res[f"{s}!{a1(row, 22)}"]["value"] == (3 if kind == "dept" else 4)


def _dept_inputs(layout: Layout, seed_form: Any) -> tuple[list[list[Any]], dict, dict]:
    cells: list[list[Any]] = []
    fields: dict[str, float | None] = {}
    for fid, value in seed_form.money.items():
        fields[fid] = value
        if value is not None:
            cells.append([*field_cell(layout, fid), value])
    pos = layout.tables["tasks"]
    rows = []
    for i, task in enumerate(seed_form.tasks):
        texts = [t for t in task if not t.replace(",", "").replace(".", "").isdigit()]
        nums = [float(t.replace(",", "")) for t in task[len(texts) :]]
        row = dict(zip(("budget", "fiscal", "other"), nums + [None] * (3 - len(nums)), strict=True))
        rows.append(row)
        for cid, text in zip(("function", "task", "projects"), texts, strict=False):
            cells.append([pos.sheet, a1(pos.first_row + i, pos.col(cid)), text])
        for cid, v in row.items():
            if v is not None:
                cells.append([pos.sheet, a1(pos.first_row + i, pos.col(cid)), v])
    return cells, fields, {"tasks": rows}


@pytest.mark.parametrize(
    "entity", ["济南市历下区民政局", "济南市历下区教育和体育局", "济南市历下区人民政府建筑新村街道办事处"]
)
def test_seed_department_numbers_compute_like_the_python_rules(entity: str, template_files: dict) -> None:
    seed_form = next(f for f in forms() if f.name == entity)
    layout = build_layout(get_spec("dept"), 2024)
    inputs, fields, tables = _dept_inputs(layout, seed_form)
    checks = [c for c in layout.cells() if c.role in ("check", "total", "check_value")]
    report = lo.probe(
        template_files["dept"],
        [
            {"op": "set", "cells": inputs},
            {"op": "recalc"},
            {"op": "read", "cells": [[c.sheet, c.ref] for c in checks]},
        ],
    )
    got = report["steps"][2]
    # every ✓/✗ cell shows what the Python rule says, row by row
    by_rule = {r.id: evaluate(r, fields, tables) for r in rules_for("dept")}
    tasks = layout.tables["tasks"]
    for c in checks:
        if c.role != "check":
            continue
        shown = got[f"{c.sheet}!{c.ref}"]["string"]
        outcomes = by_rule[c.rule.split(",")[0]]  # type: ignore[union-attr]
        if c.sheet == tasks.sheet and c.row != tasks.total_row:
            i = c.row - tasks.first_row
            match = [o for o in outcomes if o.row == i]
            want = result_text(match[0]) if match else ""
        elif c.sheet == tasks.sheet:
            want = "✓"  # the 合计 row: sums of balanced rows balance
        else:
            want = result_text(outcomes[0]) if outcomes else ""
        assert shown == want, (c.sheet, c.ref, c.rule)
    # live totals
    total = {c.formula: got[f"{c.sheet}!{c.ref}"]["value"] for c in checks if c.role == "total"}
    money = seed_form.money
    sums = sorted(total.values())
    for a, b in (
        ("exp_basic", "exp_project"),
        ("src_fiscal", "src_other"),
        ("nat_operating", "nat_specific"),
        ("sp_local", "sp_transfer"),
    ):
        want = (money[a] or 0) + (money[b] or 0)
        assert any(abs(v - want) < 1e-6 for v in sums), (a, b)
    task_total = sum(r["budget"] or 0 for r in tables["tasks"])
    assert any(abs(v - task_total) < 1e-6 for v in sums)


def test_seed_outcomes_are_the_known_inconsistencies() -> None:
    """What the self-checks must flag in the published forms (no LibreOffice needed)."""
    layout = build_layout(get_spec("dept"), 2024)
    failed: dict[str, list[tuple[str, str]]] = {}
    for f in forms():
        if f.kind != "dept":
            continue
        _, fields, tables = _dept_inputs(layout, f)
        failed[f.name] = sorted(
            (o.rule.id, result_text(o))
            for r in rules_for("dept")
            for o in evaluate(r, fields, tables)
            if o.status == "fail"
        )
    assert failed == {
        "济南市历下区教育和体育局": [
            ("dept.budget.use_vs_source", "✗ 差额 -327.89"),
            ("dept.staff.curr", "✗ 超出 508"),
            ("dept.staff.prev", "✗ 超出 508"),
            ("dept.tasks.total_vs_project", "✗ 差额 -24,204.06"),
        ],
        "济南市历下区民政局": [("dept.tasks.total_vs_project", "✗ 差额 -163.00")],
        "济南市历下区人民政府建筑新村街道办事处": [
            ("dept.budget.nature_vs_project", "✗ 差额 2,345.14"),
            ("dept.budget.special_vs_project", "✗ 差额 2,345.14"),
            ("dept.tasks.total_vs_project", "✗ 差额 -4,113.30"),
        ],
    }


def test_project_funds_check_in_libreoffice(template_files: dict) -> None:
    layout = build_layout(get_spec("project"), 2024)
    check = next(c for c in layout.cells() if c.role == "check")
    total = next(c for c in layout.cells() if c.role == "total")
    steps = [
        {
            "op": "set",
            "cells": [
                [*field_cell(layout, "total"), 80],
                [*field_cell(layout, "fiscal"), 70],
                [*field_cell(layout, "carryover"), 0],
            ],
        },
        {"op": "recalc"},
        {"op": "read", "cells": [[check.sheet, check.ref], [total.sheet, total.ref]]},
        {"op": "set", "cells": [[*field_cell(layout, "other"), 10]]},
        {"op": "recalc"},
        {"op": "read", "cells": [[check.sheet, check.ref]]},
    ]
    r = lo.probe(template_files["project"], steps)["steps"]
    assert r[2][f"{check.sheet}!{check.ref}"]["string"] == "✗ 差额 10.00"
    assert r[2][f"{total.sheet}!{total.ref}"]["value"] == 70
    assert r[5][f"{check.sheet}!{check.ref}"]["string"] == "✓"


def test_annotated_copy_opens_in_libreoffice(tmp_path: Path) -> None:
    from seedfill import seed_data

    from perfxl.annotate import annotate
    from perfxl.check import check_paths
    from perfxl.package import CopyInfo
    from perfxl.template import render_template

    data = seed_data()["济南市历下区民政局"]
    src = tmp_path / "民政局.xlsx"
    src.write_bytes(render_template(get_spec("dept"), 2024, data=data, info=CopyInfo(entity="济南市历下区民政局")))
    report = check_paths([src])
    out = annotate(report.files[0], tmp_path / "out")
    assert out is not None
    r = lo.probe(
        out,
        [
            {"op": "sheets"},
            {"op": "comments", "cells": [["年度主要任务", "E34"], ["年度绩效指标", "E6"]]},
            {"op": "read", "cells": [["校验结果", "C2"], ["校验结果", "E2"], ["部门整体", "C13"]]},
        ],
    )
    sheets, comments, cells = r["steps"]
    visible = [s["name"] for s in sheets["sheets"] if s["visible"]]
    assert visible[0] == "校验结果" and "部门整体" in visible
    assert all(s["protected"] for s in sheets["sheets"])
    assert "差额 -163.00 万元" in comments["年度主要任务!E34"]
    assert "缺少符号" in comments["年度绩效指标!E6"]  # on 符号, where it is fixed
    assert cells["校验结果!C2"]["string"] == "年度主要任务!E34"
    assert cells["部门整体!C13"]["value"] == 1263.27  # the user's data is untouched
