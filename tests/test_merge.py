"""`merge`: the district workbook from the 13 samples, and every input accounted for."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lo
import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfxl.cli import main
from perfxl.consolidated import WriterOptions, write_consolidated
from perfxl.data import FormData
from perfxl.exchange import fill_file
from perfxl.merging import MergeResult, merge

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CATALOG = SAMPLES / "catalog.csv"
SHEETS = [
    "说明",
    "概览",
    "提交情况",
    "部门整体",
    "年度主要任务",
    "项目",
    "绩效指标",
    "共性指标对照",
    "交叉校验",
    "问题清单",
    "变更记录",
]

# Every discrepancy arithmetic can establish in the published forms.
FAILED = {
    ("dept.budget.use_vs_source", "济南市历下区教育和体育局"),
    ("dept.staff.prev", "济南市历下区教育和体育局"),
    ("dept.staff.curr", "济南市历下区教育和体育局"),
    ("dept.tasks.total_vs_project", "济南市历下区教育和体育局"),
    ("dept.tasks.total_vs_project", "济南市历下区民政局"),
    ("dept.tasks.total_vs_project", "济南市历下区人民政府建筑新村街道办事处"),
    ("dept.budget.nature_vs_project", "济南市历下区人民政府建筑新村街道办事处"),
    ("dept.budget.special_vs_project", "济南市历下区人民政府建筑新村街道办事处"),
    ("project.cost.components_vs_total", "省部级劳模春节慰问金、荣誉津贴"),
    ("cross.task_vs_project", "学生资助类"),  # 教体局任务表 3,066.61 vs 项目表 30.57 (one school)
    ("project.cost.unit_standard", "省部级劳模春节慰问金、荣誉津贴"),
    ("project.cost.unit_standard", "内贸综合业务专项资金"),
    ("project.cost.unit_standard", "两馆免费开放"),
}


def samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.xlsx"))


def same_parts(a: bytes, b: bytes) -> None:
    """The same package: the same members in the same order, each with the same bytes once
    inflated and the same metadata. (The fast writer deflates 绩效指标 in blocks, one per
    submission; XlsxWriter's own path deflates it in one piece: same XML, other deflate bytes.)"""
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    meta = [(i.filename, i.date_time, i.external_attr, i.compress_type, i.file_size, i.CRC) for i in za.infolist()]
    assert meta == [
        (i.filename, i.date_time, i.external_attr, i.compress_type, i.file_size, i.CRC) for i in zb.infolist()
    ]
    for name in za.namelist():
        assert za.read(name) == zb.read(name), name


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> tuple[MergeResult, Path]:
    result = merge(samples(), catalog=CATALOG, year=2024)
    out = tmp_path_factory.mktemp("merged") / "汇总.xlsx"
    return result, write_consolidated(result, out)


def test_roster_and_sheet_rows(merged: tuple[MergeResult, Path]) -> None:
    result, path = merged
    assert [r.status for r in result.roster] == ["accepted"] * 13
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS
    rows = {n: wb[n].max_row - 1 for n in SHEETS[2:]}
    assert rows == {
        "提交情况": 13,
        "部门整体": 3,
        "年度主要任务": 18,
        "项目": 10,
        "绩效指标": 432,
        "共性指标对照": 3,  # one row per department
        "交叉校验": len(result.checks),
        "问题清单": 37,
        "变更记录": 0,  # nothing was resubmitted
    }
    for name in SHEETS[1:]:
        ws = wb[name]
        frozen = "B2" if name == "共性指标对照" else "A2"  # sixteen indicator columns: the name stays in view
        assert ws.freeze_panes == frozen and ws.auto_filter.ref, name


def test_overview_per_competent_department(merged: tuple[MergeResult, Path]) -> None:
    """概览: one row per 主管部门 with forms, money against money and problems; two native charts."""
    _, path = merged
    ws = openpyxl.load_workbook(path)["概览"]
    head = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    mz = rows["济南市历下区民政局"]
    assert (mz["应交"], mz["已接收"], mz["未提交"], mz["项目支出（万元）"]) == (1, 1, 0, 20670)
    culture = rows["济南市历下区文化和旅游局"]  # no department form of its own, two project forms
    assert culture["已接收"] == 2 and culture["项目支出（万元）"] is None and culture["项目表合计（万元）"] > 0
    assert sum(r["错误"] or 0 for r in rows.values() if isinstance(r["错误"], int)) >= 7
    with zipfile.ZipFile(path) as z:
        assert sum(n.startswith("xl/charts/chart") for n in z.namelist()) == 2


def test_exactly_the_failed_checks(merged: tuple[MergeResult, Path]) -> None:
    result, path = merged
    assert {(c.rule_id, c.entity) for c in result.checks if c.status == "fail"} == FAILED
    ws = openpyxl.load_workbook(path)["交叉校验"]
    header = [c.value for c in ws[1]]
    # what an auditor reads first comes first; the notes columns beside the source, ids narrow at the right
    assert header[:8] == ["结果", "严重程度", "状态", "对象", "说明", "左值", "右值", "差额"]
    assert header[8:11] == ["核实情况", "处理意见", "处置"] and header[-1] == "规则"
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert {r["结果"] for r in rows} >= {"通过", "不通过"}  # passed checks are listed too
    tie = next(r for r in rows if r["规则"] == "cross.task_vs_project" and r["对象"] == "学生资助类")
    assert (tie["左值"], tie["右值"], tie["差额"], tie["结果"]) == (3066.61, 30.57, 3036.04, "不通过")
    mz = next(r for r in rows if r["规则"] == "dept.tasks.total_vs_project" and r["对象"] == "济南市历下区民政局")
    assert (mz["左值"], mz["右值"], mz["差额"]) == (20507, 20670, -163)
    link = ws.cell(1 + rows.index(mz) + 1, header.index("来源") + 1).hyperlink
    assert link.target.endswith("部门整体_02_济南市历下区民政局.xlsx")
    assert link.location == "'年度主要任务'!E34"  # opens the department's file at the 合计 cell


def test_links_are_relative(merged: tuple[MergeResult, Path]) -> None:
    _, path = merged
    with zipfile.ZipFile(path) as z:
        rels = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/_rels/"))
    targets = re.findall(r'Target="([^"]+)"', rels)
    assert targets and all(not t.startswith(("/", "file:")) and ":" not in t.split("#")[0] for t in targets)


def test_indicators_keep_text_and_parse(merged: tuple[MergeResult, Path]) -> None:
    _, path = merged
    ws = openpyxl.load_workbook(path)["绩效指标"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    books = next(r for r in rows if r["三级指标"] == "图书馆新增馆藏文献数")
    assert (books["目标值（原文）"], books["符号"], books["数值"], books["单位"]) == ("≥1 万册", "≥", 1, "万册")
    seats = next(r for r in rows if r["三级指标"] == "新增学位数量")
    assert seats["目标值（原文）"] == "≤000 个"
    assert {r["类别"] for r in rows} == {"部门整体", "项目支出"}


def test_deterministic_and_atomic(merged: tuple[MergeResult, Path], tmp_path: Path) -> None:
    _, first = merged
    before = {p: p.read_bytes() for p in samples()}
    out = tmp_path / first.name
    write_consolidated(merge(samples(), catalog=CATALOG, year=2024), out)
    # links are relative to the output folder, so compare with a copy made beside the first
    again = first.parent / "again.xlsx"
    write_consolidated(merge(samples(), catalog=CATALOG, year=2024), again)
    assert again.read_bytes() == first.read_bytes()
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert {p: p.read_bytes() for p in samples()} == before  # inputs untouched


def test_every_input_accounted_for(tmp_path: Path) -> None:
    inbox = tmp_path / "收件箱"
    (inbox / "子文件夹").mkdir(parents=True)
    for p in samples()[:3]:
        shutil.copy(p, inbox / p.name)
    shutil.copy(samples()[3], inbox / "子文件夹" / samples()[3].name)
    (inbox / "~$部门整体_01.xlsx").write_bytes(b"lock")
    (inbox / ".隐藏.xlsx").write_bytes(b"x")
    (inbox / "说明.docx").write_bytes(b"x")
    (inbox / "旧表.xls").write_bytes(b"x")
    (inbox / "坏文件.xlsx").write_text("not a zip", encoding="utf-8")
    # the same project twice: identical copy, and a later corrected version
    twin = samples()[3]
    shutil.copy(twin, inbox / "再次提交.xlsx")
    data = json.loads((SAMPLES / "data" / f"{twin.stem}.json").read_text(encoding="utf-8"))
    data["fields"]["goal"] = "修改后的目标"
    newer = fill_file(FormData.from_json(data), inbox / "更正版.xlsx")
    import os

    os.utime(newer, (2_000_000_000, 2_000_000_000))
    result = merge([inbox], catalog=CATALOG)
    status = sorted((r.status, r.path.name if r.path else r.entity) for r in result.roster)
    counts = {s: result.count(s) for s in ("accepted", "superseded", "duplicate", "rejected", "skipped", "missing")}
    # the fake 旧表.xls is read like any .xls re-save, and is not one: rejected, with the broken .xlsx
    assert counts == {"accepted": 4, "superseded": 1, "duplicate": 1, "rejected": 2, "skipped": 3, "missing": 9}
    files = [p for p in inbox.rglob("*") if p.is_file()]
    assert sum(counts[s] for s in ("accepted", "superseded", "duplicate", "rejected", "skipped")) == len(files)
    assert ("accepted", "更正版.xlsx") in status
    assert ("skipped", "~$部门整体_01.xlsx") in status
    assert {f.rule for f in result.findings} >= {
        "catalog.missing",
        "file.unreadable",
        "submission.superseded",
        "submission.duplicate",
    }


def test_formula_like_text_stays_text(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "data" / "项目支出_08_两馆免费开放.json").read_text(encoding="utf-8"))
    evil = ['=HYPERLINK("http://x","点我")', "=cmd|' /C calc'!A0", "@SUM(A1)", "+1+1", "-2+3", "=100%"]
    data["fields"]["goal"] = evil[0]
    data["fields"]["implementer"] = evil[1]
    data["fields"]["category"] = "字面_x0041_编码"  # must not turn into "A" on the way through
    for row, text in zip(data["tables"]["indicators"], evil, strict=False):
        row["level3"] = text
    src = fill_file(FormData.from_json(data), tmp_path / "恶意.xlsx")
    out = write_consolidated(merge([src]), tmp_path / "汇总.xlsx")
    with zipfile.ZipFile(out) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        names = z.namelist()
    strings = "".join(sheets) + "".join(  # inline strings (constant-memory mode) or a shared table
        zipfile.ZipFile(out).read(n).decode() for n in names if n == "xl/sharedStrings.xml"
    )
    assert not any("<f>" in s or "<f " in s for s in sheets)  # no formulas anywhere
    for text in evil:
        esc = text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
        assert esc in strings or text in strings, text
    # a literal _xHHHH_ is escaped the way Excel and XlsxWriter do, so it is not decoded to "A"
    assert "字面_x005F_x0041_编码" in strings


def test_cli_merge(tmp_path: Path) -> None:
    out = tmp_path / "汇总.xlsx"
    js = tmp_path / "汇总.json"
    r = CliRunner().invoke(
        main,
        ["merge", *map(str, samples()), "--catalog", str(CATALOG), "-o", str(out), "--json", str(js), "--jobs", "2"],
    )
    assert r.exit_code == 0, r.output
    assert "已接收 13" in r.stdout and f"不通过 {len(FAILED) + 1} 项" in r.stdout  # 劳模 fails twice
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert doc["summary"]["accepted"] == 13 and len(doc["findings"]) == 37
    r = CliRunner().invoke(main, ["merge", str(tmp_path / "没有.xlsx"), "-o", str(out)])
    assert r.exit_code == 2 and "输入不存在" in r.stderr


@pytest.mark.parametrize("sheet", ["概览", "交叉校验", "问题清单"])
def test_review_sheets_are_set_up_for_a4(merged: tuple[MergeResult, Path], sheet: str) -> None:
    """A4 landscape, one page wide, header row repeated, page x of y; on paper 交叉校验 and 问题清单
    carry the columns up to 处置 (what an auditor signs off), so the text stays readable."""
    _, path = merged
    ws = openpyxl.load_workbook(path)[sheet]
    setup = ws.page_setup
    assert (int(setup.paperSize), setup.orientation, setup.fitToWidth or 1, setup.fitToHeight) == (9, "landscape", 1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
    assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    if sheet != "概览":
        head = [c.value for c in ws[1]]
        area = ws.print_area[0] if isinstance(ws.print_area, list) else ws.print_area
        assert area.split(":")[1].rstrip("0123456789").replace("$", "") == chr(ord("A") + head.index("处置"))


@pytest.mark.libreoffice
def test_consolidated_prints_in_libreoffice(merged: tuple[MergeResult, Path], tmp_path: Path) -> None:
    _, path = merged
    pdf = tmp_path / "汇总.pdf"
    lo.probe(path, [], save_pdf=str(pdf))
    assert len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes())) >= 3


@pytest.mark.libreoffice
def test_consolidated_opens_in_libreoffice(merged: tuple[MergeResult, Path]) -> None:
    _, path = merged
    r = lo.probe(path, [{"op": "sheets"}, {"op": "read", "cells": [["交叉校验", "A2"], ["提交情况", "F2"]]}])
    sheets, cells = r["steps"]
    assert [s["name"] for s in sheets["sheets"]] == SHEETS
    charts = lo.probe(path, [{"op": "shapes", "sheet": "概览"}])["steps"][0]
    assert charts["charts"] == 2  # the overview's native charts load in LibreOffice
    assert cells["交叉校验!A2"]["string"] == "不通过"
    assert cells["提交情况!F2"]["string"] == "已接收"


def test_tables_beyond_excel_rows_spill_to_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    result = merge(samples(), catalog=CATALOG, year=2024)
    out = write_consolidated(result, tmp_path / "汇总.xlsx", options=WriterOptions(max_rows=101))  # 100 data rows
    spilled = tmp_path / "汇总_绩效指标.csv"
    with spilled.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 1 + 432  # nothing dropped
    wb = openpyxl.load_workbook(out)
    assert wb["绩效指标"].max_row == 101
    about = " ".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert "绩效指标" in about and "汇总_绩效指标.csv" in about and "432 行" in about


ODD_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    [" 前导空格", "结尾空格 ", "A&B<c>", "_x0041_", "\x01控制\x1f", "\ufffe", "=SUM(A1)", "\t", "\n换行"]
)


def _odd_result(texts: list[str], numbers: list[float], base: Path) -> MergeResult:
    from perfxl.findings import Finding, Severity

    findings = [
        Finding(
            rule=f"r{i}",
            severity=list(Severity)[i % 3],
            message=t,
            entity=t[::-1],
            file=str(base / "来源.xlsx"),
            sheet="表",
            cell=f"B{i + 1}",
            expected=numbers[i % len(numbers)] if numbers else t,
            actual=i % 2 == 0,
        )
        for i, t in enumerate(texts)
    ]
    return MergeResult(roster=[], checks=[], findings=findings, year=2024)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(ODD_TEXT, min_size=1, max_size=12),
    numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12), max_size=4),
    max_links=st.integers(0, 14),
)
def test_fast_rows_write_what_xlsxwriter_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, texts: list[str], numbers: list[float], max_links: int
) -> None:
    """The row writer emits, byte for byte, the XML XlsxWriter's cell API writes: escaping,
    whitespace, numbers, hyperlinks up to the per-sheet limit and the note beyond it."""
    result = _odd_result(texts, numbers, tmp_path)
    fast = write_consolidated(result, tmp_path / "fast.xlsx", options=WriterOptions(max_links=max_links)).read_bytes()
    reference = WriterOptions(max_links=max_links, fast_rows=False)
    slow = write_consolidated(result, tmp_path / "slow.xlsx", options=reference).read_bytes()
    same_parts(fast, slow)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(ODD_TEXT, min_size=1, max_size=12),
    numbers=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-(10**18), 10**18), max_size=4
    ),
)
def test_the_round_kept_with_a_workbook_is_what_reading_it_back_gives(
    tmp_path: Path, texts: list[str], numbers: list[float]
) -> None:
    """The round the writer keeps (review.as_read of what it writes) equals what read_previous
    reads back from the workbook, for any text and number; or none is kept, when some text would
    not come back as written (control characters, _xHHHH_)."""
    from dataclasses import replace

    from perfxl.cache import ReportCache
    from perfxl.review import NotExact, as_read, read_previous

    result = _odd_result(texts, numbers, tmp_path)
    result.findings = [replace(f, key=f"K{i:04d}") for i, f in enumerate(result.findings)]
    cache = tmp_path / "c.sqlite"
    cache.unlink(missing_ok=True)
    out = write_consolidated(result, tmp_path / "k.xlsx", jobs=2, cache=cache)
    store = ReportCache(cache)
    kept = store.kept_round(out)
    store.close()
    try:
        exact = bool([as_read([f.message, f.entity, f.expected]) for f in result.findings])
    except NotExact:
        exact = False
    if exact:
        assert kept is not None and kept == read_previous(out) and len(kept.problems) == len(texts)
    else:
        assert kept is None


@pytest.mark.parametrize(("max_links", "piece_rows"), [(65_000, 3_000), (7, 3_000), (65_000, 7)])
def test_fast_rows_on_the_samples(
    merged: tuple[MergeResult, Path], monkeypatch: pytest.MonkeyPatch, max_links: int, piece_rows: int
) -> None:
    """The fast writer's XML is XlsxWriter's, with the link limit, and with 交叉校验 and 问题清单 in
    many pieces (their hyperlinks joined and numbered on)."""
    result, first = merged
    fast = write_consolidated(
        result,
        first.parent / f"fast{max_links}_{piece_rows}.xlsx",
        options=WriterOptions(max_links=max_links, piece_rows=piece_rows),
    )
    # every cell through XlsxWriter's API, and XlsxWriter's own worksheet class
    reference = WriterOptions(max_links=max_links, fast_rows=False)
    slow = write_consolidated(result, first.parent / f"slow{max_links}.xlsx", options=reference)
    same_parts(fast.read_bytes(), slow.read_bytes())
    if max_links == 7:
        wb = openpyxl.load_workbook(fast)
        links = [c.hyperlink for c in wb["交叉校验"]["M"] if c.hyperlink]
        assert len(links) == 7
        about = " ".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
        assert "“交叉校验”的链接超过" in about and "“问题清单”的链接超过" in about


@pytest.mark.parametrize(("max_links", "piece_rows"), [(65_000, 3_000), (7, 3_000), (65_000, 7)])
def test_parallel_pieces_write_the_same_bytes(
    merged: tuple[MergeResult, Path], monkeypatch: pytest.MonkeyPatch, max_links: int, piece_rows: int
) -> None:
    """With --jobs, forked workers render 绩效指标's blocks in groups and the sheets with links whole
    (their hyperlinks too, up to the limit, with the note beyond it); the workbook is byte-identical."""
    import perfxl.consolidated as consolidated

    result, first = merged
    serial = write_consolidated(
        result, first.parent / "serial.xlsx", options=WriterOptions(max_links=max_links, piece_rows=piece_rows)
    )
    started: list[tuple[str, int]] = []  # (sheet, blocks or 1), as the writer hands the tasks out
    real = consolidated._Writer.launch

    def spy(self: Any) -> None:
        started.extend((args[0], len(args[1]) if fn.__name__ == "render_blocks" else 1) for _, fn, args in self.queued)
        real(self)

    monkeypatch.setattr(consolidated._Writer, "launch", spy)
    options = WriterOptions(parallel_min_rows=1, max_links=max_links, piece_rows=piece_rows)
    json_path = first.parent / f"parallel{max_links}.json"
    parallel = write_consolidated(result, first.parent / "parallel.xlsx", jobs=2, options=options, json_path=json_path)
    from perfxl.report import merge_json

    assert json_path.read_text("utf-8") == merge_json(result)  # made by a worker meanwhile
    groups: dict[str, list[int]] = {}
    for name, n in started:
        groups.setdefault(name, []).append(n)
    # the per-submission tables in groups (a group more than workers), each submission once
    linked = 1 if max_links == 7 or piece_rows == 3_000 else None  # one piece, or pieces of 7 rows
    assert {k: sum(v) for k, v in groups.items() if k not in ("交叉校验", "问题清单")} == {
        "绩效指标": 13, "部门整体": 3, "年度主要任务": 3, "项目": 10,
        str(json_path.with_name(f".{json_path.name}.{os.getpid()}.tmp")): 1,
    }  # fmt: skip
    assert len(groups["绩效指标"]) == 3
    if linked:
        assert groups["交叉校验"] == groups["问题清单"] == [1]
    else:
        assert len(groups["交叉校验"]) == -(-len(result.checks) // 7) and len(groups["问题清单"]) > 1
    assert parallel.read_bytes() == serial.read_bytes()
    wb = openpyxl.load_workbook(parallel)
    links = [c.hyperlink.target for c in wb["交叉校验"]["M"] if c.hyperlink]
    assert len(links) == (7 if max_links == 7 else 106) and links[0].endswith(".xlsx")
    about = " ".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert ("“交叉校验”的链接超过" in about) == (max_links == 7)


def test_cached_blocks_write_the_same_bytes(
    merged: tuple[MergeResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """绩效指标 goes out as one deflated block per submission, and a re-merge takes the blocks of
    unchanged submissions from the cache: byte-identical without a cache, with a cold one, a warm
    one (nothing rendered), with --jobs, with damaged entries (rendered again), and after rows
    moved (the blocks after the move rendered again); the cache then keeps only what it used."""
    import sqlite3

    import perfxl._xlsxwriter_fast as fast

    result, _ = merged
    rendered: list[int] = []
    real = fast.render_block
    monkeypatch.setattr(fast, "render_block", lambda rows, first, *a: rendered.append(first) or real(rows, first, *a))
    plain = write_consolidated(result, tmp_path / "汇总.xlsx").read_bytes()
    assert len(rendered) == 29  # 部门整体 3, 年度主要任务 3, 项目 10, 绩效指标 13
    with zipfile.ZipFile(io.BytesIO(plain)) as z:
        assert z.testzip() is None  # every member inflates to its CRC
    cache = tmp_path / "c.sqlite"

    def again(jobs: int = 1, res: MergeResult = result) -> bytes:
        rendered.clear()
        opts = WriterOptions(parallel_min_rows=1)
        return write_consolidated(res, tmp_path / "汇总.xlsx", cache=cache, jobs=jobs, options=opts).read_bytes()

    assert again() == plain and len(rendered) == 29  # cold
    assert again() == plain and rendered == []  # warm
    assert again(jobs=2) == plain
    with sqlite3.connect(cache) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM blocks ORDER BY key")]
        db.execute("UPDATE blocks SET data = zeroblob(length(data)) WHERE key = ?", (keys[0],))
        db.execute("UPDATE blocks SET zcrc = zcrc + 1 WHERE key = ?", (keys[1],))
        db.execute("UPDATE blocks SET size = 'many' WHERE key = ?", (keys[2],))
    assert again() == plain and len(rendered) == 3
    # the first department gone: the blocks after it start elsewhere, except in 项目
    fewer = merge(samples()[1:], catalog=CATALOG, year=2024)
    cold = write_consolidated(fewer, tmp_path / "汇总.xlsx").read_bytes()
    assert again(res=fewer) == cold and len(rendered) == 2 + 2 + 12
    with sqlite3.connect(cache) as db:  # only what the last workbook used
        assert db.execute("SELECT count(*) FROM blocks").fetchone() == (2 + 2 + 10 + 12,)


def test_cached_pieces_with_links_write_the_same_bytes(
    merged: tuple[MergeResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """交叉校验 and 问题清单 go out in pieces with their links; with a cache, a piece the last
    workbook had row for row at the same place is taken from it: byte-identical without a cache,
    with a cold one, a warm one (nothing rendered), with --jobs, with damaged entries (rendered
    again), with fewer submissions (what moved rendered again); the cache keeps only what it used;
    pieces too large to hold for their key are rendered as they go, with the same bytes."""
    import sqlite3

    import perfxl._xlsxwriter_fast as fast
    import perfxl.pieces as pieces

    result, _ = merged
    opts = WriterOptions(parallel_min_rows=1, piece_rows=7)
    rendered: list[int] = []
    real = fast.render_sheet_block
    monkeypatch.setattr(
        fast, "render_sheet_block", lambda rows, first, *a: rendered.append(first) or real(rows, first, *a)
    )
    plain = write_consolidated(result, tmp_path / "汇总.xlsx", options=opts).read_bytes()
    total = len(rendered)
    assert total == -(-len(result.checks) // 7) + -(-len(result.findings) // 7)
    cache = tmp_path / "c.sqlite"

    def again(jobs: int = 1, res: MergeResult = result) -> bytes:
        rendered.clear()
        out = write_consolidated(res, tmp_path / "汇总.xlsx", cache=cache, jobs=jobs, options=opts).read_bytes()
        assert not pieces.LINKED and not pieces.PIECE_KEY  # nothing held after the write
        return out

    assert again() == plain and len(rendered) == total  # cold
    assert again() == plain and rendered == []  # warm
    assert again(jobs=2) == plain  # (rendered in workers: not seen here)
    with sqlite3.connect(cache) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM linked ORDER BY key")]
        assert len(keys) == total
        db.execute("UPDATE linked SET data = zeroblob(length(data)) WHERE key = ?", (keys[0],))
        db.execute("UPDATE linked SET links = replace(links, 'rId1', 'rId9') WHERE key = ?", (keys[1],))
        db.execute("UPDATE linked SET size = 'many' WHERE key = ?", (keys[2],))
        db.execute("UPDATE linked SET links = '[1, 2]' WHERE key = ?", (keys[3],))
    assert again() == plain and len(rendered) == 4
    fewer = merge(samples()[1:], catalog=CATALOG, year=2024)  # the first department gone
    cold = write_consolidated(fewer, tmp_path / "汇总.xlsx", options=opts).read_bytes()
    assert again(res=fewer) == cold and 0 < len(rendered) < total
    with sqlite3.connect(cache) as db:  # only what the last workbook used
        (count,) = db.execute("SELECT count(*) FROM linked").fetchone()
        assert count == -(-len(fewer.checks) // 7) + -(-len(fewer.findings) // 7)
    monkeypatch.setattr(pieces, "CACHED_AT_MOST", 0)  # larger pieces are made as they go, not looked up
    assert again(res=fewer) == cold and len(rendered) == count


class _Idle(Executor):
    """No worker ever starts a task: each stays pending until the writer takes it back."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


class _Dead(Executor):
    """Every task's worker died (killed, out of memory)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


@pytest.mark.parametrize("executor", [_Idle, _Dead])
def test_pieces_no_worker_rendered_are_rendered_here(
    merged: tuple[MergeResult, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, executor: type[Executor]
) -> None:
    """What no worker has started once the writer's own sheets are done, and what a worker failed
    to render, the writer renders itself: same bytes as the serial write."""
    import perfxl.pieces as pieces

    @contextmanager
    def fake_pool(jobs: int) -> Any:
        yield executor(), str(tmp_path)

    from perfxl.report import merge_json

    result, first = merged
    name = executor.__name__
    serial = write_consolidated(result, first.parent / f"serial_{name}.xlsx", json_path=tmp_path / "serial.json")
    monkeypatch.setattr(pieces, "pool", fake_pool)
    options = WriterOptions(parallel_min_rows=1)
    here = write_consolidated(
        result, first.parent / f"here_{name}.xlsx", jobs=2, options=options, json_path=tmp_path / "here.json"
    )
    assert here.read_bytes() == serial.read_bytes()
    # the JSON too, made here when no worker made it
    assert (tmp_path / "here.json").read_text("utf-8") == (tmp_path / "serial.json").read_text("utf-8")
    assert (tmp_path / "here.json").read_text("utf-8") == merge_json(result)
    assert not list(tmp_path.glob(".*.tmp"))
    # a merge whose sheets fail after the JSON was made leaves no temporary JSON behind
    import perfxl.sheets as sheets

    monkeypatch.setattr(sheets, "_about", lambda *a: (_ for _ in ()).throw(RuntimeError("sheets failed")))
    with pytest.raises(RuntimeError):
        write_consolidated(result, first.parent / f"broken_{name}.xlsx", json_path=tmp_path / "broken.json")
    assert not list(tmp_path.glob(".*.tmp")) and not (tmp_path / "broken.json").exists()


def test_automatic_jobs() -> None:
    import os

    from perfxl.merging import auto_jobs

    assert auto_jobs(13) == 1
    assert auto_jobs(2000) == max(1, min(4, os.cpu_count() or 1))


def test_no_fork_means_serial_writing(merged: tuple[MergeResult, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where processes cannot be forked (Windows, macOS defaults), --jobs writes serially, same bytes."""
    import multiprocessing

    import perfxl.consolidated as consolidated

    result, first = merged
    serial = write_consolidated(result, first.parent / "serial_nf.xlsx")
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    real = consolidated._Writer.launch

    def launch(self: Any) -> None:
        if self.queued:
            pytest.fail("forked without fork")
        real(self)

    monkeypatch.setattr(consolidated._Writer, "launch", launch)
    nofork = write_consolidated(
        result, first.parent / "nofork.xlsx", jobs=2, options=WriterOptions(parallel_min_rows=1)
    )
    assert nofork.read_bytes() == serial.read_bytes()


def test_collector_settings_restored() -> None:
    import gc

    from perfxl.merging import fewer_collections

    assert gc.isenabled()
    with fewer_collections():
        assert gc.get_freeze_count() > 0 and not gc.isenabled()
        with fewer_collections():  # nested: the outer one still owns the frozen objects
            pass
        assert gc.get_freeze_count() > 0 and not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.freeze()  # a caller's own frozen objects (the intake server's warm imports) stay frozen
    try:
        with fewer_collections():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_spilled_table_with_jobs_keeps_the_sheet_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table past Excel's row limit is written serially (first rows only) even with --jobs."""
    options = WriterOptions(max_rows=101, parallel_min_rows=1)
    out = write_consolidated(
        merge(samples(), catalog=CATALOG, year=2024), tmp_path / "汇总.xlsx", jobs=2, options=options
    )
    assert openpyxl.load_workbook(out)["绩效指标"].max_row == 101
    assert (tmp_path / "汇总_绩效指标.csv").exists()


def test_without_xlsxwriter_internals_the_public_api_writes_the_same_content(
    merged: tuple[MergeResult, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A future XlsxWriter without the private names the fast writer uses: the workbook is still
    written (public API only, one notice), with the same sheets and cells."""
    import perfxl._xlsxwriter_fast as fast
    import perfxl.consolidated as consolidated

    result, first = merged
    monkeypatch.setattr(fast, "AVAILABLE", False)
    monkeypatch.setattr(fast, "MISSING", "Worksheet._write_single_row")
    monkeypatch.setattr(consolidated, "_NOTICED", [])
    with caplog.at_level("WARNING", logger="perfxl"):
        slow = write_consolidated(result, first.parent / "public_api.xlsx", jobs=2)
    (notice,) = [r.getMessage() for r in caplog.records if "XlsxWriter" in r.getMessage()]
    assert notice.startswith("提示：") and "缺少 Worksheet._write_single_row" in notice
    a, b = openpyxl.load_workbook(first), openpyxl.load_workbook(slow)
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        assert [[c.value for c in row] for row in a[name].iter_rows()] == [
            [c.value for c in row] for row in b[name].iter_rows()
        ]


def test_the_probe_finds_what_it_needs_in_the_installed_xlsxwriter() -> None:
    import perfxl._xlsxwriter_fast as fast

    assert fast.probe() == "" and fast.AVAILABLE


@settings(max_examples=300, deadline=None)
@given(
    path=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30),
    anchor=st.none() | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
)
def test_links_to_cells_of_one_file_share_its_parse(path: str, anchor: str | None) -> None:
    """A link to a file or to a cell is the file's parsed link (with the cell as anchor): the same
    Url in every attribute as XlsxWriter's own parse of the whole address, whatever the path holds."""
    from xlsxwriter.url import Url

    from perfxl._xlsxwriter_fast import fast_url

    url = f"external:{path}" if anchor is None else f"external:{path}#{anchor}"
    try:
        expected = vars(Url(url))
    except IndexError:  # XlsxWriter's own edge (a one-character path without a cell): the same here
        with pytest.raises(IndexError):
            fast_url(url)
        return
    assert vars(fast_url(url)) == expected


LINK_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    links=st.dictionaries(
        st.tuples(st.integers(0, 40), st.integers(0, 30)),
        st.tuples(st.sampled_from(["external", "internal", "url"]), LINK_TEXT, LINK_TEXT, st.booleans()),
        min_size=1,
        max_size=12,
    ),
    tip=st.booleans(),
)
def test_fast_hyperlinks_are_xlsxwriters(links: dict[tuple[int, int], tuple[str, str, str, bool]], tip: bool) -> None:
    """The <hyperlinks> element and relationships of a piece, written here, are what XlsxWriter's
    element writers make of the same links: external with and without a cell, internal, web,
    odd characters, in any order of rows and columns; with a tooltip it is XlsxWriter's own."""
    from collections import defaultdict

    from xlsxwriter.url import Url
    from xlsxwriter.worksheet import Worksheet

    from perfxl._xlsxwriter_fast import _links_of

    made: dict[int, dict[int, Any]] = defaultdict(dict)
    for (row, col), (kind, path, anchor, with_anchor) in links.items():
        address = {"external": f"external:{path}", "internal": f"internal:'{path}'!A1", "url": "https://x.cn/"}[kind]
        try:
            url = Url(f"{address}#{anchor}" if with_anchor and kind != "internal" else address)
        except (ValueError, IndexError):  # too long for Excel, or XlsxWriter's own one-character edge: never made
            continue
        url._text = path
        if tip:
            url._tip = anchor
        made[row][col] = url
    if not made:
        return
    sink = type("Sink", (), {"hyperlinks": made})()
    ws = Worksheet()
    ws._set_filehandle(io.StringIO())
    ws.hyperlinks = made
    ws._write_hyperlinks()
    assert _links_of(sink) == (ws.fh.getvalue(), tuple(tuple(r) for r in ws.external_hyper_links))


@settings(max_examples=200, deadline=None)
@given(
    rels=st.lists(
        st.tuples(st.sampled_from(["/hyperlink", "/drawing", "/vml"]), LINK_TEXT, st.sampled_from(["External", None])),
        max_size=8,
    )
)
def test_fast_relationships_are_xlsxwriters(rels: list[tuple[str, str, str | None]]) -> None:
    """A sheet's relationships file, written as one string, is XlsxWriter's byte for byte."""
    from xlsxwriter.relationships import Relationships

    from perfxl._xlsxwriter_fast import _Relationships

    made = []
    for cls in (Relationships, _Relationships):
        r = cls()
        r._set_filehandle(io.StringIO())
        for rel in rels:
            r._add_document_relationship(*rel)
        r._assemble_xml_file()
        made.append(r.fh.getvalue())
    assert made[0] == made[1]
