"""What people type and how spreadsheet programs store it: read as the person saw it."""

from __future__ import annotations

import io
from pathlib import Path

import lo
import openpyxl
import pytest
from hostile.corpus import base_bytes

from perfxl.check import check_paths
from perfxl.consolidated import write_consolidated
from perfxl.merge import merge

PERCENT_ROWS = {"F14": 10, "F15": 11, "F16": 12}  # 绩效指标 cells whose 单位 is % → indicator row index


def _targets(path: Path) -> tuple[list[tuple[str | None, float | None, str | None]], set[tuple[str, str, str]]]:
    (r,) = check_paths([path], year=2024).files
    return [(t.op, t.number, t.unit) for t in r.targets], {(f.rule, f.sheet, f.cell) for f in r.findings}


def test_percent_formatted_numbers_are_read_as_shown(tmp_path: Path) -> None:
    """0.95 formatted as 0% in a % row is 95; in a 万元 row it is "8.4%" (a unit clash the
    target parser reports); in an amount cell a percent format is an error, the number kept."""
    wb = openpyxl.load_workbook(io.BytesIO(base_bytes(tmp_path)))
    ind, money = wb["绩效指标"], wb["项目支出"]
    for ref, value, fmt in (("F14", 0.95, "0%"), ("F15", 0.9, "0.00%"), ("F16", 0.875, '0.0%;[Red]"-"0.0%')):
        ind[ref].value, ind[ref].number_format = value, fmt
    ind["F7"].value, ind["F7"].number_format = 0.084, "0%"
    money["C5"].number_format = "0%"
    path = tmp_path / "百分比.xlsx"
    wb.save(path)
    targets, findings = _targets(path)
    assert [targets[i] for i in (10, 11, 12)] == [("＝", 95, "%"), ("＝", 90, "%"), ("≥", 87.5, "%")]
    assert targets[3][1] == 8.4 and ("value.percent_format", "项目支出", "C5") in findings
    assert not any(cell in ("F14", "F15", "F16") for _rule, _sheet, cell in findings)
    result = merge([path], year=2024)
    out = write_consolidated(result, tmp_path / "汇总.xlsx")
    rows = list(openpyxl.load_workbook(out, read_only=True)["绩效指标"].iter_rows(min_row=2, values_only=True))
    head = [c.value for c in next(openpyxl.load_workbook(out, read_only=True)["绩效指标"].iter_rows(max_row=1))]
    by_name = {row[head.index("三级指标")]: row for row in rows}
    assert by_name["宣传资料派发率"][head.index("数值")] == 95
    assert by_name["宣传资料派发率"][head.index("目标值（原文）")] == "＝95 %"


@pytest.mark.libreoffice
def test_percent_typed_in_libreoffice(tmp_path: Path) -> None:
    """Typed at the keyboard (dispatcher EnterString, with LibreOffice's own number
    recognition), saved as xlsx by LibreOffice, read back by perfxl."""
    src = tmp_path / "填报.xlsx"
    src.write_bytes(base_bytes(tmp_path))
    saved = tmp_path / "另存.xlsx"
    typed = [["绩效指标", "F14", "95%"], ["绩效指标", "F15", "95 %"], ["绩效指标", "F16", "87.5%"],
             ["项目支出", "C5", "80%"]]  # fmt: skip
    r = lo.probe(src, [{"op": "type", "cells": typed}], save_as=str(saved))
    assert r["steps"][0]["绩效指标!F14"]["after"] in ("95%", "95.00%")  # shown as a percentage
    targets, findings = _targets(saved)
    assert [targets[i] for i in (10, 11, 12)] == [("＝", 95, "%"), ("＝", 95, "%"), ("≥", 87.5, "%")]
    # the amount cell keeps its #,##0.00 format in LibreOffice: 80% is stored and shown as 0.80,
    # which the funds identity catches; where a program switches it to a percent format, the
    # format itself is the finding
    shown = r["steps"][0]["项目支出!C5"]["after"]
    expected = ("value.percent_format" if shown.endswith("%") else "project.funds.total", "项目支出", "C5")
    assert expected in findings, (shown, findings)


def test_annotated_copy_sent_back_is_judged_on_the_form(tmp_path: Path) -> None:
    """A department fixes its problems in the annotated copy it got back and returns that file:
    the 校验结果 sheet is ours (no warning), the form's findings are what they were, and
    annotating it again replaces the old results instead of adding a second sheet."""
    from perfxl.annotate import annotate

    sample = Path(__file__).resolve().parents[1] / "samples" / "项目支出_03_省部级劳模春节慰问金、荣誉津贴.xlsx"
    (first,) = check_paths([sample], year=2024).files
    copy = annotate(first, tmp_path / "第一轮")
    assert copy is not None
    (again,) = check_paths([copy], year=2024).files
    assert [(f.rule, f.sheet, f.cell) for f in again.findings] == [(f.rule, f.sheet, f.cell) for f in first.findings]
    twice = annotate(again, tmp_path / "第二轮")
    assert twice is not None
    assert openpyxl.load_workbook(twice, read_only=True).sheetnames.count("校验结果") == 1


@pytest.mark.libreoffice
def test_annotated_marks_stand_out_in_libreoffice(tmp_path: Path) -> None:
    """Errors red, warnings orange, each boxed, distinct from the pale yellow input cells, as
    LibreOffice draws them; the missing operator is marked on 符号, where it is fixed."""
    from perfxl.annotate import FILLS, annotate
    from perfxl.findings import Severity

    samples = Path(__file__).resolve().parents[1] / "samples"
    reports = check_paths([samples / "部门整体_01_济南市历下区教育和体育局.xlsx",
                           samples / "部门整体_02_济南市历下区民政局.xlsx"], year=2024).files  # fmt: skip
    rules = [{(f.sheet, f.cell): (f.rule, f.severity) for f in r.findings} for r in reports]
    assert rules[0][("部门整体", "C13")] == ("dept.budget.use_vs_source", Severity.ERROR)
    assert rules[1][("年度绩效指标", "E6")] == ("value.no_operator", Severity.WARNING)
    copies = [annotate(r, tmp_path / str(i)) for i, r in enumerate(reports)]
    assert copies[0] is not None and copies[1] is not None
    marks = [["部门整体", "C13"], ["校验结果", "G2"], ["校验结果", "G3"]]
    first = lo.probe(copies[0], [{"op": "look", "cells": marks}])
    second = lo.probe(copies[1], [{"op": "look", "cells": [["年度绩效指标", "E6"], ["年度绩效指标", "F6"]]}])
    looks = {**first["steps"][0], **second["steps"][0]}
    assert looks["年度绩效指标!E6"]["back"] == FILLS[Severity.WARNING] and looks["年度绩效指标!E6"]["border"] > 0
    assert looks["部门整体!C13"]["back"] == FILLS[Severity.ERROR] and looks["部门整体!C13"]["border"] > 0
    assert looks["年度绩效指标!F6"]["back"] == "FFF2CC"  # the 数值 beside it stays an ordinary input cell
    legend = (looks["校验结果!G2"]["back"], looks["校验结果!G3"]["back"])
    assert legend == (FILLS[Severity.ERROR], FILLS[Severity.WARNING])
