"""The checks on a regression corpus (tests/regression.py): every injected error found, no
cascades, no error or warning on clean forms with unusual content (issue 15)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import lo
import pytest
from regression import Case, build, cases, clean_cases, district

from perfxl.check import FileReport, check_paths
from perfxl.exchange import fill_file
from perfxl.forms import get_spec
from perfxl.layout import build_layout
from perfxl.merging import merge

SERIOUS = ("ERROR", "WARNING")


def serious(r: FileReport) -> set[str]:
    return {f.rule for f in r.findings if f.severity.name in SERIOUS}


def test_the_corpus_covers_every_class_at_least_three_times() -> None:
    per_class = Counter(i for c in cases() for i in c.expect)
    assert min(per_class.values()) >= 3, per_class
    assert {c.base for c in cases()} >= {"P1", "P2", "P4", "P9", "D"}
    assert len(clean_cases()) >= 20


def test_every_injected_error_is_found_and_nothing_else(tmp_path: Path) -> None:
    """100 % recall on the filled cases, and no error or warning beyond the injected ones."""
    filled = [c for c in cases() if c.typed is None]
    paths = [fill_file(build(c.name, c.base, c.change), tmp_path / f"{c.name}.xlsx") for c in filled]
    report = check_paths(paths, year=2024)
    wrong = {c.name: (sorted(c.expect), sorted(serious(r))) for c, r in zip(filled, report.files, strict=True)}
    assert {k: v for k, v in wrong.items() if set(v[0]) != set(v[1])} == {}
    assert len(filled) >= 90


def test_clean_forms_with_unusual_content_raise_no_error_or_warning(tmp_path: Path) -> None:
    made = [(n, fill_file(build(n, b, ch), tmp_path / f"{n}.xlsx")) for n, b, ch in clean_cases()]
    report = check_paths([p for _, p in made], year=2024)
    found = {n: sorted(serious(r)) for (n, _), r in zip(made, report.files, strict=True)}
    assert {n: f for n, f in found.items() if f} == {}


def _cell(c: Case) -> tuple[str, str]:
    """Where a typed case's text goes: the last numeric indicator row, or a field."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    kind = "dept" if c.base == "D" else "project"
    layout = build_layout(get_spec(kind), 2024)
    assert c.typed is not None
    table, row, column, _text = c.typed
    if not table:
        sheet, r, col = layout.fields[column]
        return sheet, xl_rowcol_to_cell(r, col)
    rows = build(c.name, c.base, c.change).tables[table]
    if row < 0:
        row = max(i for i, r in enumerate(rows) if isinstance(r["value"], (int, float)) and r["level1"] != "成本指标")
    pos = layout.tables[table]
    return pos.sheet, xl_rowcol_to_cell(pos.first_row + row, pos.col(column))


@pytest.mark.libreoffice
def test_errors_typed_in_libreoffice_are_found(tmp_path: Path) -> None:
    """The same classes typed at the keyboard (.uno:EnterString) and saved by LibreOffice."""
    lo.require()
    typed = [c for c in cases() if c.typed is not None]
    assert len(typed) >= 3
    paths = []
    for c in typed:
        src = fill_file(build(c.name, c.base, c.change), tmp_path / f"{c.name}.src.xlsx")
        sheet, ref = _cell(c)
        out = tmp_path / f"{c.name}.xlsx"
        lo.probe(src, [{"op": "type", "cells": [[sheet, ref, c.typed[3]]]}], save_as=str(out))  # type: ignore[index]
        paths.append(out)
    report = check_paths(paths, year=2024)
    for c, r in zip(typed, report.files, strict=True):
        assert serious(r) == set(c.expect), (c.name, [(f.rule, f.cell, f.message) for f in r.findings])


def test_task_rows_listing_several_projects_compare_with_their_sum(tmp_path: Path) -> None:
    """A task row naming two forms is compared with their sum; a project name holding 、 is
    matched whole; the clean district gives no error or warning across forms."""
    for name, d in district().items():
        fill_file(d, tmp_path / "ok" / f"{name}.xlsx")
    ok = merge([tmp_path / "ok"])
    assert ok.count("accepted") == 4
    assert [f.rule for f in ok.findings if f.severity.name in SERIOUS] == []
    ties = [c for c in ok.checks if c.rule_id == "cross.task_vs_project" and c.status != "skip"]
    assert [(c.status, c.left, c.right) for c in ties] == [("pass", 16_232, 16_232), ("pass", 70, 70)]
    assert "社区办公运行（16,000.00）、采购社工服务（232.00）" in ties[0].detail
    hints = [c.detail for c in ok.checks if c.rule_id == "cross.task_vs_project" and c.status == "skip"]
    assert not any("没有列出此项目" in h for h in hints)  # every form is listed by some row
    assert any("“养老服务项目”没有对应的项目表" in h for h in hints)  # a name without a form: a hint

    for name, d in district({"采购社工服务": 300.0, "社区办公运行": 16_000.0 * 10_000}).items():
        fill_file(d, tmp_path / "bad" / f"{name}.xlsx")
    bad = merge([tmp_path / "bad"])
    got = Counter(f.rule for f in bad.findings if f.severity.name in SERIOUS)
    # the row of two forms no longer adds up; the form typed in 元 is 1,000× its department
    assert got == Counter({"cross.task_vs_project": 1, "cross.scale.project_vs_dept": 1})
