"""Template structure, read back with openpyxl: what Excel and WPS will see."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import range_boundaries

from perfxl.forms import get_spec
from perfxl.forms.model import NUMERIC_TYPES as NUMERIC
from perfxl.forms.model import FormSpec
from perfxl.layout import LOCKED_ROLES, build_layout, in_sheet
from perfxl.package import (
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    META_SHEET,
    CopyInfo,
    expected_fingerprint,
    fingerprint,
    locked_texts,
)
from perfxl.rules import rules_for
from perfxl.template import DEFAULT_PASSWORD, fixed_common_cells, render_template
from perfxl.xlsxpost import legacy_password_hash

KINDS = ("dept", "project")


@pytest.fixture(scope="module")
def books(template_files: dict[str, Path]) -> dict[str, openpyxl.Workbook]:
    return {k: openpyxl.load_workbook(p) for k, p in template_files.items()}


def meta(wb: openpyxl.Workbook) -> dict[str, str]:
    return {r[0]: r[1] or "" for r in wb[META_SHEET].iter_rows(values_only=True)}


@pytest.mark.parametrize("kind", KINDS)
def test_sheets_in_spec_order_then_instructions_and_hidden(kind: str, books: dict) -> None:
    wb = books[kind]
    spec = get_spec(kind)
    names = [s.name for s in spec.sheets]
    assert wb.sheetnames == [*names, INSTRUCTIONS_SHEET, LISTS_SHEET, META_SHEET]
    states = {ws.title: ws.sheet_state for ws in wb.worksheets}
    assert states[LISTS_SHEET] == "veryHidden"
    assert states[META_SHEET] == "veryHidden"
    assert all(states[n] == "visible" for n in [*names, INSTRUCTIONS_SHEET])


@pytest.mark.parametrize("kind", KINDS)
def test_every_sheet_protected_with_password_and_structure_locked(kind: str, books: dict) -> None:
    wb = books[kind]
    digest = legacy_password_hash(DEFAULT_PASSWORD)
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        assert ws.protection.password == digest, ws.title
        # users may resize rows/columns to read long text, nothing else
        assert ws.protection.formatRows is False  # openpyxl: False means allowed
        assert ws.protection.insertRows is True and ws.protection.deleteRows is True
    assert wb.security is not None
    assert wb.security.lockStructure
    assert wb.security.workbookPassword == digest


def test_password_is_configurable(tmp_path: Path) -> None:
    data = render_template(get_spec("project"), 2024, password="区财政局2024")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    digest = legacy_password_hash("区财政局2024")
    assert wb.security.workbookPassword == digest
    assert {ws.protection.password for ws in wb.worksheets} == {digest}


def test_legacy_hash_matches_known_values() -> None:
    # values Excel writes for these passwords (ECMA-376 Part 4 §18.2.29)
    assert legacy_password_hash("password") == "83AF"
    assert legacy_password_hash("perfxl") == "DEC9"


@pytest.mark.parametrize("kind", KINDS)
def test_locked_and_unlocked_cells_follow_their_roles(kind: str, books: dict) -> None:
    wb = books[kind]
    layout = build_layout(get_spec(kind), 2024)
    counts = {"locked": 0, "unlocked": 0}
    fixed = fixed_common_cells(get_spec(kind), 2024)  # the common indicators' names and standards
    assert len(fixed) == (16 * 6 if kind == "dept" else 0)
    for cell in layout.cells():
        c = wb[cell.sheet][cell.ref]
        if cell.role in LOCKED_ROLES or (cell.sheet, cell.ref) in fixed:
            assert c.protection.locked, (cell.sheet, cell.ref, cell.role)
            counts["locked"] += 1
        else:
            assert cell.role == "input"
            assert not c.protection.locked, (cell.sheet, cell.ref)
            assert c.fill.fgColor.rgb == "FFFFF2CC", (cell.sheet, cell.ref)  # shaded
            counts["unlocked"] += 1
    assert counts["locked"] > 100 and counts["unlocked"] > 100
    for ws in (wb[INSTRUCTIONS_SHEET], wb[LISTS_SHEET], wb[META_SHEET]):
        for row in ws.iter_rows():
            for c in row:
                assert c.protection.locked, (ws.title, c.coordinate)


@pytest.mark.parametrize("kind", KINDS)
def test_defined_name_for_every_field_table_and_column(kind: str, books: dict) -> None:
    wb = books[kind]
    spec = get_spec(kind)
    layout = build_layout(spec, 2024)
    names = wb.defined_names
    for f in spec.fields:
        dn = names[f"fld_{f.id}"]
        sheet, ref = next(iter(dn.destinations))
        want_sheet, row, col = layout.fields[f.id]
        assert sheet == want_sheet
        assert ref == openpyxl.utils.get_column_letter(col + 1).join(["$", f"${row + 1}"])
    for t in spec.tables:
        sheet, ref = next(iter(names[f"tbl_{t.id}"].destinations))
        min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
        assert max_row - min_row + 1 == t.capacity
        assert max_col - min_col + 1 == len(t.columns)
        for col in t.columns:
            assert f"col_{t.id}_{col.id}" in names
    for lst in (
        "lst_level1",
        "lst_frame_l1",
        "lst_frame_l2",
        "lst_ops",
        "lst_units",
        "lst_category",
        "lst_yesno",
        "perfxl_meta",
    ):
        assert lst in names


@pytest.mark.parametrize("kind", KINDS)
def test_validations_cover_every_input_with_chinese_prompts(kind: str, books: dict) -> None:
    wb = books[kind]
    layout = build_layout(get_spec(kind), 2024)
    by_sheet: dict[str, list] = {}
    for ws in wb.worksheets:
        by_sheet[ws.title] = list(ws.data_validations.dataValidation)
    for cell in layout.cells():
        if cell.role != "input":
            continue
        dvs = [dv for dv in by_sheet[cell.sheet] if cell.ref in dv.sqref]
        assert len(dvs) == 1, (cell.sheet, cell.ref, cell.field or cell.column)
        dv = dvs[0]
        assert dv.showInputMessage and dv.promptTitle, (cell.sheet, cell.ref)
        if dv.type != "none" and dv.type is not None:
            assert dv.showErrorMessage and dv.error
            assert any("\u4e00" <= ch <= "\u9fff" for ch in dv.error), dv.error


def _dv_for(wb: openpyxl.Workbook, sheet: str, ref: str):  # type: ignore[no-untyped-def]
    return next(dv for dv in wb[sheet].data_validations.dataValidation if ref in dv.sqref)


def test_validation_kinds_dept(books: dict) -> None:
    wb = books["dept"]
    layout = build_layout(get_spec("dept"), 2024)

    def at(field: str):  # type: ignore[no-untyped-def]
        sheet, r, c = layout.fields[field]
        return _dv_for(wb, sheet, openpyxl.utils.get_column_letter(c + 1) + str(r + 1))

    money = at("exp_basic")
    assert money.type == "custom" and "ROUND(" in money.formula1 and ">=0" in money.formula1
    count = at("staff_quota_curr")
    assert count.type == "whole" and count.operator in (None, "between")  # between is the default
    assert (count.formula1, count.formula2) == ("0", "10000000")
    phone = at("phone")
    assert phone.type == "custom" and "LEN(" in phone.formula1
    assert at("units_in_scope").formula1 == "lst_yesno"
    assert at("contact").type == "textLength" and at("contact").formula1 == "20"
    pos = layout.tables["indicators"]
    first = pos.first_row + 1
    l1 = _dv_for(wb, "年度绩效指标", f"B{first}")
    l2 = _dv_for(wb, "年度绩效指标", f"C{first}")
    op = _dv_for(wb, "年度绩效指标", f"E{first}")
    value = _dv_for(wb, "年度绩效指标", f"F{first}")
    unit = _dv_for(wb, "年度绩效指标", f"G{first}")
    assert l1.formula1 == "lst_level1"
    assert "OFFSET(lst_frame_l2" in l2.formula1 and f"$B{first}" in l2.formula1
    assert op.formula1 == "lst_ops"
    assert "定性" in value.formula1 and '"%"' in value.formula1
    assert unit.formula1 == "lst_units" and unit.errorStyle == "information"
    assert _dv_for(wb, "年度绩效指标", f"B{pos.last_row + 1}") is l1  # one range per column


def test_project_category_dropdown(books: dict) -> None:
    layout = build_layout(get_spec("project"), 2024)
    sheet, r, c = layout.fields["category"]
    dv = _dv_for(books["project"], sheet, openpyxl.utils.get_column_letter(c + 1) + str(r + 1))
    assert dv.formula1 == "lst_category"
    lists = books["project"][LISTS_SHEET]
    values = {ws_c.value for col in lists.iter_cols() for ws_c in col}
    assert {"其他运转类", "特定目标类", "≥", "＞", "＝", "＜", "≤", "定性", "是", "否"} <= values


@pytest.mark.parametrize("kind", KINDS)
def test_print_setup(kind: str, books: dict) -> None:
    wb = books[kind]
    layout = build_layout(get_spec(kind), 2024)
    for sl in layout.sheets:
        ws = wb[sl.spec.name]
        assert ws.page_setup.paperSize == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth or 1) == 1  # 1 is the default, often omitted
        assert ws.page_setup.fitToHeight == 0
        tables = [b for b in sl.spec.blocks if type(b).__name__ == "TableBlock"]
        if len(tables) == 1:
            r = sl.repeat_row + 1  # type: ignore[operator]
            assert ws.print_title_rows == f"${r}:${r}"
        else:  # a header repeated above another table would mislead
            assert ws.print_title_rows is None
        for cell in sl.cells:  # long text wraps instead of spilling over
            if cell.role in ("label", "input", "header") and cell.type not in NUMERIC:
                assert ws[cell.ref].alignment.wrap_text, (sl.spec.name, cell.ref)
        assert all(
            ws.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width > 0 for i in range(len(sl.spec.widths))
        )
    indicators = wb[get_spec(kind).sheets[-1].name]
    assert indicators.print_title_rows  # the long table repeats its header


@pytest.mark.parametrize("kind", KINDS)
def test_no_merged_cells_touch_table_rows(kind: str, books: dict) -> None:
    wb = books[kind]
    layout = build_layout(get_spec(kind), 2024)
    for pos in layout.tables.values():
        for rng in wb[pos.sheet].merged_cells.ranges:
            assert rng.max_row < pos.header_row + 1 or rng.min_row > pos.last_row + 1, (pos.table, str(rng))


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_and_fingerprint_reproducible_from_the_file(kind: str, books: dict) -> None:
    wb = books[kind]
    spec = get_spec(kind)
    m = meta(wb)
    assert m["form_kind"] == kind
    assert m["spec_version"] == spec.version
    assert m["year"] == "2024"
    assert m["issued_for"] == ""
    assert len(m["copy_id"]) == 36
    assert _fingerprint_of_cells(wb, spec) == m["fingerprint"]


@settings(max_examples=6, deadline=None)
@given(
    entity=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    competent=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    kind=st.sampled_from(KINDS),
)
def test_copy_fingerprint_reproducible_from_the_copy(entity: str, competent: str, kind: str) -> None:
    """Copies issued for someone carry their names locked; the fingerprint computed per copy
    from shared parts and slots equals the hash of the cells the copy really holds."""
    spec = get_spec(kind)
    info = CopyInfo(entity=entity, competent=competent)
    wb = openpyxl.load_workbook(io.BytesIO(render_template(spec, 2024, info=info)))
    assert meta(wb)["fingerprint"] == _fingerprint_of_cells(wb, spec) == expected_fingerprint(spec, 2024, info)
    assert sorted(locked_texts(spec, 2024, info)) == sorted(_locked_cells(wb, spec))


def _fingerprint_of_cells(wb: Any, spec: FormSpec) -> str:
    """A reader can recompute the fingerprint from the locked cells alone."""
    return fingerprint(_locked_cells(wb, spec))


def _locked_cells(wb: Any, spec: FormSpec) -> list[tuple[str, str, str]]:
    """Every locked, non-formula cell holding a value, on every sheet but _meta: taken from the
    file's own protection flags, not from the layout. The prefilled common-indicator rows are
    the library's content, not the template's (library.missing / library.deviation watch them),
    so they stay out of the fingerprint."""
    common = fixed_common_cells(spec, int(meta(wb)["year"]))
    locked: list[tuple[str, str, str]] = []
    for ws in wb.worksheets:
        if ws.title == META_SHEET:
            continue
        for row in ws.iter_rows():
            for c in row:
                if (ws.title, c.coordinate) in common:
                    continue
                if c.value not in (None, "") and c.data_type != "f" and c.protection.locked:
                    locked.append((ws.title, c.coordinate, str(c.value)))
    return locked


def test_fingerprint_changes_with_a_label() -> None:
    spec = get_spec("project")
    a = openpyxl.load_workbook(io.BytesIO(render_template(spec, 2024)))
    b = openpyxl.load_workbook(io.BytesIO(render_template(spec, 2025)))
    assert meta(a)["fingerprint"] != meta(b)["fingerprint"]  # the year caption differs


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_bytes(kind: str) -> None:
    spec = get_spec(kind)
    one = render_template(spec, 2024)
    two = render_template(spec, 2024)
    assert one == two
    with zipfile.ZipFile(io.BytesIO(one)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
        assert "2020-01-01T00:00:00Z" in core


def test_prefilled_copy_locks_the_names() -> None:
    info = CopyInfo(entity="学生资助类", competent="济南市历下区教育和体育局", category="项目支出绩效目标", seq="6")
    wb = openpyxl.load_workbook(io.BytesIO(render_template(get_spec("project"), 2024, info=info)))
    layout = build_layout(get_spec("project"), 2024)
    for fid, want in (("project_name", "学生资助类"), ("competent", "济南市历下区教育和体育局")):
        sheet, r, c = layout.fields[fid]
        cell = wb[sheet].cell(r + 1, c + 1)
        assert cell.value == want
        assert cell.protection.locked
    sheet, r, c = layout.fields["implementer"]
    assert not wb[sheet].cell(r + 1, c + 1).protection.locked
    m = meta(wb)
    assert m["issued_for"] == "学生资助类"
    assert m["competent_dept"] == "济南市历下区教育和体育局"
    assert m["catalog_seq"] == "6"
    blank = meta(openpyxl.load_workbook(io.BytesIO(render_template(get_spec("project"), 2024))))
    assert m["copy_id"] != blank["copy_id"]


@pytest.mark.parametrize("kind", KINDS)
def test_self_checks_present_for_every_formula_rule(kind: str, books: dict) -> None:
    wb = books[kind]
    layout = build_layout(get_spec(kind), 2024)
    shown = {c.rule for c in layout.cells() if c.role == "check"}
    spec = get_spec(kind)
    for rule in rules_for(kind):
        on_sheet = any(rule.id in (s or "").split(",") for s in shown)
        assert on_sheet == in_sheet(rule, spec), rule.id  # derived-value rules stay in Python
    assert sum(in_sheet(r, spec) for r in rules_for(kind)) >= (6 if kind == "dept" else 1)
    for c in layout.cells():
        if c.role == "check":
            f = wb[c.sheet][c.ref].value
            assert isinstance(f, str) and f.startswith("=IF(") and "✓" in f and "✗" in f
    # conditional formats mark ✗ red and ✓ green on every check cell
    for sl in layout.sheets:
        refs = {c.ref for c in sl.cells if c.role == "check"}
        ws = wb[sl.spec.name]
        formatted = {str(rng.sqref) for rng in ws.conditional_formatting}
        assert refs <= formatted


@pytest.mark.parametrize("kind", KINDS)
def test_instructions_sheet_lists_every_field_and_column(kind: str, books: dict) -> None:
    spec = get_spec(kind)
    text = "\n".join(
        "\t".join("" if v is None else str(v) for v in row)
        for row in books[kind][INSTRUCTIONS_SHEET].iter_rows(values_only=True)
    )
    for f in spec.fields:
        assert f"\t{f.label}\t" in text, f.label
    for t in spec.tables:
        for col in t.columns:
            assert f"{t.label}·{col.label}" in text
    for rule in rules_for(kind):
        assert rule.id in text
