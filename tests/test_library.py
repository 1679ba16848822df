"""The district's common indicators (共性指标, issue 16): the library as data, the two checks,
an override, and the comparison sheet of the consolidated workbook."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from perfxl.check import check_paths
from perfxl.cli import main
from perfxl.consolidated import write_consolidated
from perfxl.data import FormData
from perfxl.exchange import fill_file
from perfxl.library import DEFAULT, load_library, name_key
from perfxl.merging import merge

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DEPTS = sorted(SAMPLES.glob("部门整体_*.xlsx"))
MZ = "部门整体_02_济南市历下区民政局"


def data(stem: str) -> FormData:
    return FormData.from_json(json.loads((SAMPLES / "data" / f"{stem}.json").read_text(encoding="utf-8")))


def library_rules(path: Path, indicators: Path | None = None) -> list[tuple[str, str, str]]:
    (r,) = check_paths([path], year=2024, indicators=indicators).files
    return [(f.rule, f.cell, f.message) for f in r.findings if f.rule.startswith("library.")]


def test_the_default_library_is_the_seeds_sixteen_rows() -> None:
    lib = load_library()
    assert len(lib.rows) == 16 and lib.for_kind("project") == []
    for stem in ("部门整体_01_济南市历下区教育和体育局", MZ, "部门整体_03_济南市历下区人民政府建筑新村街道办事处"):
        first = data(stem).tables["indicators"][:16]
        assert [r["level3"] for r in first] == [c.level3 for c in lib.rows]
        assert [(r["level1"], r["level2"]) for r in first] == [(c.level1, c.level2) for c in lib.rows]
    assert [c.shown for c in lib.rows][:3] == ["≤100%", "≤0%", "＝100%"]
    assert name_key('"三公经费" 变动率') == name_key("“三公经费”变动率")


def test_the_seed_departs_from_no_standard() -> None:
    """The seed's common rows match the standard; its 12 missing signs stay value.no_operator."""
    for path in DEPTS:
        assert library_rules(path) == [], path.name


def test_a_missing_common_indicator_is_an_error_and_a_deviation_a_warning(tmp_path: Path) -> None:
    d = data(MZ)
    rows = d.tables["indicators"]
    next(r for r in rows if r["level3"] == "结转结余率")["value"] = 15
    d.tables["indicators"] = [r for r in rows if r["level3"] != "政府采购执行率"]
    found = library_rules(fill_file(d, tmp_path / "f.xlsx"))
    assert [(rule, cell) for rule, cell, _ in found] == [("library.missing", "D4"), ("library.deviation", "F11")]
    assert "缺少区级共性指标“政府采购执行率”" in found[0][2] and "标准 ≥95%" in found[0][2]
    assert found[1][2] == "共性指标“结转结余率”的目标 ≤15 % 与区级标准 ≤9% 不一致"
    (r,) = check_paths([tmp_path / "f.xlsx"], year=2024).files
    assert {f.rule: f.severity.label for f in r.findings if f.rule.startswith("library.")} == {
        "library.missing": "错误",
        "library.deviation": "警告",
    }


def test_a_bureau_library_overrides_the_default(tmp_path: Path) -> None:
    """--indicators: the bureau sets 结转结余率 ≤ 15 %; the seed's ≤ 9 % now deviates."""
    own = tmp_path / "我们的共性指标.csv"
    own.write_text(
        DEFAULT.read_text(encoding="utf-8").replace("结转结余率,≤,9,%", "结转结余率,≤,15,%"), encoding="utf-8"
    )
    path = SAMPLES / f"{MZ}.xlsx"
    assert [m for _, _, m in library_rules(path, own)] == ["共性指标“结转结余率”的目标 ≤9 % 与区级标准 ≤15% 不一致"]
    r = CliRunner().invoke(main, ["check", str(path), "--year", "2024", "--indicators", str(own), "--fail-on", "never"])
    assert r.exit_code == 0 and "library.deviation" in r.output
    bad = tmp_path / "坏的.csv"
    bad.write_text("三级指标,数值\n结转结余率,9\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(path), "--indicators", str(bad)])
    assert r.exit_code == 2 and "共性指标库" in r.output and "缺少列" in r.output


def test_the_comparison_sheet_shows_each_department_against_the_standard(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for p in DEPTS:
        (inbox / p.name).write_bytes(p.read_bytes())
    d = data(MZ)
    next(r for r in d.tables["indicators"] if r["level3"] == "结转结余率")["value"] = 15
    d.tables["indicators"] = [r for r in d.tables["indicators"] if r["level3"] != "政府采购执行率"]
    fill_file(d, inbox / f"{MZ}.xlsx")
    out = write_consolidated(merge([inbox], year=2024), tmp_path / "汇总.xlsx")
    ws = openpyxl.load_workbook(out)["共性指标对照"]
    head = [c.value for c in ws[1]]
    assert head[0] == "部门名称" and head[8] == "结转结余率（标准 ≤9%）" and head[-3:] == ["偏离", "缺少", "来源文件"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    mz = rows["济南市历下区民政局"]
    assert (mz[8], mz[10], mz[-3], mz[-2]) == ("※≤15 %", "（缺）", 1, 1)
    assert rows["济南市历下区教育和体育局"][-3:-1] == (0, 0)
    rules = [(r.sqref, [x.formula for x in r.rules]) for r in ws.conditional_formatting]
    assert any("※" in str(f) for _, f in rules) and any("（缺）" in str(f) for _, f in rules)


@pytest.mark.parametrize("typed", ['"三公经费"变动率', "“三公经费” 变动率", "“三公经费”变动率 "])
def test_names_typed_by_hand_are_recognised(typed: str, tmp_path: Path) -> None:
    d = data(MZ)
    d.tables["indicators"][1]["level3"] = typed
    assert library_rules(fill_file(d, tmp_path / "f.xlsx")) == []


@pytest.mark.libreoffice
def test_the_template_opens_with_the_common_rows_locked_where_the_library_says(tmp_path: Path) -> None:
    """In LibreOffice: names always locked; a target the library marks 可改 takes what the
    department types, the others refuse it; a fresh template reads back with no library finding."""
    import lo

    from perfxl.forms import get_spec
    from perfxl.layout import build_layout
    from perfxl.template import write_template

    own = tmp_path / "共性指标.csv"
    own.write_text(
        DEFAULT.read_text(encoding="utf-8").replace(
            "结转结余率,≤,9,%,部门整体,是,否", "结转结余率,≤,9,%,部门整体,是,是"
        ),
        encoding="utf-8",
    )
    lib = load_library(own)
    path = write_template("dept", 2024, tmp_path, indicators=lib)
    pos = build_layout(get_spec("dept"), 2024).tables["indicators"]
    i = [c.level3 for c in lib.rows].index("结转结余率")

    def cell(row: int, column: str) -> list[str]:
        return [pos.sheet, a1(pos.first_row + row, pos.col(column))]

    free = [cell(i, c) for c in ("op", "value", "unit")]
    fixed = [cell(i, "level3"), cell(0, "op"), cell(0, "value"), cell(0, "unit")]
    first = lo.probe(
        path,
        [
            {"op": "locked", "cells": free + fixed},
            {"op": "read", "cells": [cell(i, "level3"), cell(i, "value"), cell(0, "value")]},
            {"op": "type", "cells": [[*cell(i, "value"), "15"]]},
        ],
    )["steps"]
    assert first[0] == {
        **{f"{s}!{r}": False for s, r in free},
        **{f"{s}!{r}": True for s, r in fixed},
    }
    shown = list(first[1].values())
    assert [v["string"] for v in shown] == ["结转结余率", "9", "100"]
    assert first[2] == {"!".join(cell(i, "value")): {"before": "9", "after": "15"}}
    # one refused edit per LibreOffice session (see test_libreoffice)
    for target in (cell(i, "level3"), cell(0, "value")):
        typed = lo.probe(path, [{"op": "type", "cells": [[*target, "改了"]]}])["steps"][0]["!".join(target)]
        assert typed["after"] == typed["before"] != "改了"
    (r,) = check_paths([path], year=2024, indicators=own).files
    assert [f for f in r.findings if f.rule.startswith("library.")] == []


def a1(row: int, col: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return str(xl_rowcol_to_cell(row, col))


def test_a_library_for_project_forms_uses_the_same_mechanism(tmp_path: Path) -> None:
    """Empty by default for project forms; a bureau row with 适用表类型 项目支出 is prefilled and
    locked in the project template, and its absence from a project form is an error."""
    from perfxl.template import write_template

    own = tmp_path / "共性指标.csv"
    own.write_text(
        DEFAULT.read_text(encoding="utf-8") + "区级,产出指标,时效指标,资金支付及时率,≥,95,%,项目支出,是,否\n",
        encoding="utf-8",
    )
    lib = load_library(own)
    assert [c.level3 for c in lib.for_kind("project")] == ["资金支付及时率"]
    path = write_template("project", 2024, tmp_path, indicators=lib)
    ws = openpyxl.load_workbook(path)["绩效指标"]
    first = next(r for r in ws.iter_rows() if any(c.value == "资金支付及时率" for c in r))
    assert all(c.protection.locked for c in first if c.value not in (None, ""))
    (fresh,) = check_paths([path], year=2024, indicators=own).files
    assert [f for f in fresh.findings if f.rule.startswith("library.")] == []
    sample = sorted(SAMPLES.glob("项目支出_*.xlsx"))[0]
    (r,) = check_paths([sample], year=2024, indicators=own).files
    assert [f.message for f in r.findings if f.rule == "library.missing"] == [
        "缺少区级共性指标“资金支付及时率”（产出指标/时效指标，标准 ≥95%）"
    ]
    (default,) = check_paths([sample], year=2024).files
    assert not [f for f in default.findings if f.rule.startswith("library.")]
