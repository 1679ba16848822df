"""MergeResult → the district consolidated workbook (XlsxWriter), deterministic.

Sheets in order: 说明, 提交情况, 部门整体, 年度主要任务, 项目, 绩效指标, 交叉校验,
问题清单. Every value from a submission is written as a string or a number,
never through write(), so text such as `=100%` or `@SUM(A1)` stays text.
Links to source files are relative to the workbook, so the folder can move.
"""

from __future__ import annotations

import csv
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from math import isfinite
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl import __version__
from perfxl import _xlsxwriter_fast as fast
from perfxl.errors import OutputError
from perfxl.forms import KIND_LABELS, get_spec
from perfxl.forms.model import NUMERIC_TYPES, ValueType
from perfxl.isolate import die_with_parent
from perfxl.merging import ROSTER_LABEL, MergeResult, RosterRow, fewer_collections
from perfxl.package import FIXED_CREATED, Meta
from perfxl.read import Loc
from perfxl.review import DISPOSITIONS, round_label, typed_target

FONT = "宋体"
SHEETS = (
    "说明",
    "概览",
    "提交情况",
    "部门整体",
    "年度主要任务",
    "项目",
    "绩效指标",
    "交叉校验",
    "问题清单",
    "变更记录",
)
EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet; larger tables spill to CSV beside the workbook
MAX_LINKS = 65_000  # Excel keeps at most 65,530 hyperlinks per worksheet
MONEY = "#,##0.00"
STATUS_TEXT = {"pass": "通过", "fail": "不通过", "skip": "未校验（数据不全）", "incomplete": "数据不完整"}
KIND_TEXT = KIND_LABELS


PARALLEL_MIN_ROWS = 20_000  # below this, forking workers to render a sheet costs more than it saves


@dataclass(frozen=True, kw_only=True)
class WriterOptions:
    """How the consolidated workbook is written; the defaults are what users get. Tests pass
    other values (small limits, the cell-by-cell reference path) instead of patching globals."""

    fast_rows: bool = True  # False: every cell through XlsxWriter's public API (the reference)
    max_links: int = MAX_LINKS
    max_rows: int = EXCEL_MAX_ROWS
    parallel_min_rows: int = PARALLEL_MIN_ROWS
    deflate_level: int = 1

    @property
    def fast(self) -> bool:
        """Fast rows, if the installed XlsxWriter still has what they rely on."""
        return self.fast_rows and fast.AVAILABLE


@dataclass
class Parts:
    """A big table as consecutive pieces (row count, fresh iterator), each made on demand:
    forked workers render the pieces at the same time when the merge runs with --jobs."""

    pieces: list[tuple[int, Callable[[], Iterator[Sequence[Any]]]]]

    @property
    def count(self) -> int:
        return sum(n for n, _ in self.pieces)

    def rows(self) -> Iterator[Sequence[Any]]:
        return chain.from_iterable(make() for _, make in self.pieces)


# What forked workers render: set by the parent just before the workers start.
_PENDING: dict[str, tuple[Parts, list[Any], list[bool], Any]] = {}


def _render_piece(args: tuple[str, int, int, str]) -> str:
    """Worker: one piece of a table's rows → a file of <row> elements; returns its path."""
    name, index, first_row, folder = args
    parts, formats, links, link_format = _PENDING[name]
    return fast.render_rows(parts.pieces[index][1](), first_row, formats, links, link_format, folder)


@dataclass(frozen=True)
class Col:
    header: str
    width: float
    kind: str = "text"  # text / money / int / link / status


class _Writer:
    def __init__(
        self, wb: Any, out: Path, pool: Executor | None = None, scratch: str = "", options: WriterOptions | None = None
    ) -> None:
        self.wb = wb
        self.opts = options or WriterOptions()
        self.pool = pool
        self.scratch = scratch
        self.pending: list[tuple[str, list[Future[str]], int, int]] = []
        self.out = out
        self.out_dir = out.parent
        self.notes: list[str] = []
        self._rel: dict[Path, str] = {}
        self._folders: dict[Path, str] = {}
        self._out_real = str(self.out_dir.resolve())
        self.spilled: list[Path] = []
        # constant-memory mode writes each sheet row by row: create them all now, fill 说明 last
        sheet_class = fast.FastSheet if self.opts.fast else None
        self.sheets = {name: wb.add_worksheet(name, worksheet_class=sheet_class) for name in SHEETS}
        base = {"font_name": FONT, "font_size": 10, "valign": "top"}
        self.f = {
            "header": wb.add_format(
                {
                    **base,
                    "bold": True,
                    "bg_color": "#DDEBF7",
                    "border": 1,
                    "text_wrap": True,
                    "valign": "vcenter",
                    "align": "center",
                }
            ),
            "text": wb.add_format({**base}),
            "wrap": wb.add_format({**base, "text_wrap": True}),
            "money": wb.add_format({**base, "num_format": MONEY}),
            "int": wb.add_format({**base, "num_format": "0"}),
            "link": wb.add_format({**base, "font_color": "#0563C1", "underline": 1}),
            "bad": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "warn": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
            "good": wb.add_format({"font_color": "#006100"}),
            "title": wb.add_format({**base, "bold": True, "font_size": 16}),
            # what auditors type: unlocked, wrapped, and text (so =, +, - and @ stay text)
            "note": wb.add_format(
                {**base, "text_wrap": True, "locked": False, "num_format": "@", "bg_color": "#FFF2CC"}
            ),
        }
        # Cell formats take their style index on first use, and constant-memory mode fixes it in
        # the XML at once: number them here, in one order, whatever each sheet happens to use.
        for key in ("header", "text", "wrap", "money", "int", "link", "title", "note"):
            fast.xf_index(self.f[key])

    def link(self, path: Path | None, loc: Loc | None = None) -> tuple[str, str] | None:
        """(url, text) of a relative link to a source file and cell."""
        if path is None:
            return None
        rel = self._rel.get(path)
        if rel is None:
            folder = self._folders.get(path.parent)
            if folder is None:  # resolved once per folder, not per file (thousands share a few folders)
                folder = self._folders[path.parent] = os.path.relpath(path.parent.resolve(), self._out_real)
            rel = self._rel[path] = os.path.normpath(os.path.join(folder, path.name)).replace(os.sep, "/")
        text = rel if loc is None else f"{rel} {loc.sheet}!{loc.cell}"
        url = f"external:{rel}" + (f"#'{loc.sheet}'!{loc.cell}" if loc else "")
        return url, text

    def table(
        self,
        name: str,
        cols: Sequence[Col],
        rows: Sequence[Sequence[Any]] | Parts,
        status_col: int | None = None,
        note: str = "",
    ) -> Any:
        """`rows` is a list, or `Parts` for the big sheets: rows are then made as they are
        written (twice if the table spills to CSV) instead of all held at once."""
        parts = rows if isinstance(rows, Parts) else Parts([(len(rows), partial(iter, rows))])
        count, make = parts.count, parts.rows
        ws = self.sheets[name]
        for c, col in enumerate(cols):  # note columns: empty cells open for typing too
            ws.set_column(c, c, col.width, self.f["note"] if col.kind == "note" else None)
        ws.write_row(0, 0, [c.header for c in cols], self.f["header"])
        ws.set_row(0, 30)
        limit = self.opts.max_rows - 1  # the header takes one row
        body: Iterable[Sequence[Any]] = make()
        spilled = count > limit
        if spilled:
            csv_path = self.spill(name, cols, body)
            self.notes.append(
                f"“{name}”共 {count} 行，超过 Excel 每表 {self.opts.max_rows:,} 行的上限："
                f"表中只列前 {limit:,} 行，完整内容见同一文件夹中的 {csv_path.name}"
            )
            count = limit
            body = islice(make(), limit)
        links = [c.kind == "link" for c in cols]
        # pieces render all their rows: only for a table that fits the sheet, without links
        if (
            self.opts.fast
            and self.pool is not None
            and isinstance(rows, Parts)
            and count >= self.opts.parallel_min_rows
            and not spilled
            and not any(links)
        ):
            self._start_pieces(name, rows, [self._format_of(c) for c in cols], links)
            overflow = False
        elif self.opts.fast:
            formats = [self._format_of(c) for c in cols]
            overflow = ws.write_fast_rows(1, body, formats, links, self.f["link"], self.opts.max_links)
        else:
            overflow = False
            for r, row in enumerate(body, start=1):
                for c, (col, value) in enumerate(zip(cols, row, strict=True)):
                    overflow = self._cell(ws, r, c, col, value) or overflow
        if overflow:
            self.notes.append(
                f"“{name}”的链接超过 Excel 每表 {self.opts.max_links:,} 个的上限，其后各行的来源以文字列出"
            )
        last = max(1, count)
        ws.autofilter(0, 0, last, len(cols) - 1)
        ws.freeze_panes(1, 0)
        if status_col is not None and count:
            rng = f"{xl_rowcol_to_cell(1, status_col)}:{xl_rowcol_to_cell(count, status_col)}"
            for word, fmt in (
                ("不通过", "bad"),
                ("错误", "bad"),
                ("未提交", "bad"),
                ("无法读取", "bad"),
                ("警告", "warn"),
                ("通过", "good"),
                ("已接收", "good"),
            ):
                ws.conditional_format(
                    rng, {"type": "text", "criteria": "begins with", "value": word, "format": self.f[fmt]}
                )
        _print_setup(ws)
        ws.repeat_rows(0)
        if note:
            ws.write_comment(0, 0, note)
        return ws

    def _start_pieces(self, name: str, parts: Parts, formats: list[Any], links: list[bool]) -> None:
        assert self.pool is not None
        fast.header_out(self.sheets[name])  # the header row goes out first
        for sheet in self.sheets.values():  # nothing buffered for a forked child to ever flush twice
            fast.flush(sheet)
        _PENDING[name] = (parts, formats, links, self.f["link"])
        first, futures = 1, []
        for i, (n, _make) in enumerate(parts.pieces):
            futures.append(self.pool.submit(_render_piece, (name, i, first, self.scratch)))
            first += n
        self.pending.append((name, futures, parts.count, len(formats)))

    def finish(self) -> None:
        """Splice the rows rendered by workers into their sheets, in order."""
        for name, futures, count, ncols in self.pending:
            ws = self.sheets[name]
            for future in futures:
                fast.append_rows_file(ws, future.result())
            fast.set_extent(ws, count, ncols)
            _PENDING.pop(name, None)
        self.pending = []

    def spill(self, name: str, cols: Sequence[Col], rows: Iterable[Sequence[Any]]) -> Path:
        """The full table as CSV beside the workbook (UTF-8 with BOM, as Excel opens it)."""
        path = self.out.with_name(f"{self.out.stem}_{name}.csv")
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([c.header for c in cols])
            for row in rows:
                w.writerow([v[1] if isinstance(v, tuple) else ("" if v is None else v) for v in row])
        os.replace(tmp, path)
        self.spilled.append(path)
        return path

    def review_columns(self, name: str, cols: Sequence[Col], count: int, print_to: str) -> None:
        """The auditors' columns: open for typing (the rest of the sheet is read-only, no password),
        处置 from a dropdown; paper gets the columns up to `print_to`, readable on A4."""
        ws = self.sheets[name]
        heads = [c.header for c in cols]
        ws.print_area(0, 0, max(1, count), heads.index(print_to))
        if count:
            c = heads.index("处置")
            ws.data_validation(
                1,
                c,
                count,
                c,
                {"validate": "list", "source": list(DISPOSITIONS), "error_type": "warning", "ignore_blank": True},
            )
        ws.protect(
            "",
            {
                "autofilter": True,
                "sort": True,
                "format_cells": True,
                "format_columns": True,
                "format_rows": True,
                "select_locked_cells": True,
                "select_unlocked_cells": True,
            },
        )

    def _format_of(self, col: Col) -> Any:
        if col.kind == "note":
            return self.f["note"]
        if col.kind == "money":
            return self.f["money"]
        if col.kind == "int":
            return self.f["int"]
        if col.kind in ("link", "source"):
            return self.f["text"]
        return self.f["wrap" if col.width >= 30 else "text"]

    def _cell(self, ws: Any, r: int, c: int, col: Col, value: Any) -> bool:
        """One cell through XlsxWriter's API: the reference for `write_fast_rows`.
        True when a link was refused because the sheet has reached MAX_LINKS."""
        fmt = self._format_of(col)
        url = None
        if isinstance(value, tuple):
            url, value = value
        if value is None or value == "":
            return False
        limit = self.opts.max_links
        if url is not None and col.kind == "link" and ws.hlink_count < limit and fast.link_ok(url):
            ws.write_url(r, c, url, self.f["link"], string=value)
            return False
        if isinstance(value, bool):
            ws.write_string(r, c, "是" if value else "否", fmt)
        elif isinstance(value, (int, float)) and isfinite(value):
            ws.write_number(r, c, value, fmt)
        elif isinstance(value, float):  # NaN or infinity would make the workbook unopenable
            ws.write_string(r, c, fast.NOT_A_NUMBER, fmt)
        else:
            ws.write_string(r, c, str(value)[:32767], fmt)
        return url is not None and col.kind == "link" and ws.hlink_count >= limit


def write_consolidated(
    result: MergeResult, out: str | Path, *, jobs: int = 1, options: WriterOptions | None = None
) -> Path:
    """Write the workbook atomically (temporary file, then rename). With jobs > 1 (and fork
    available), workers render the largest sheet while this process writes the others."""
    out = Path(out)
    opts = options or WriterOptions()
    if opts.fast_rows and not fast.AVAILABLE:
        _notice_slow_path()
    out_dir = out.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法写入 {out}：{exc.strerror or exc}") from exc
    # constant_memory streams rows to temporary files: a city-wide merge has millions of cells.
    # The result goes to a temporary name beside the target and is renamed when complete.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    if fast.AVAILABLE:  # packing at a lower deflate level is independent of how rows are written
        book_class: Any = fast.FastWorkbook
        fast.FastWorkbook.deflate_level = opts.deflate_level
    else:
        book_class = xlsxwriter.Workbook
    wb = book_class(
        str(tmp),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "max_url_length": fast.MAX_URL,
        },
    )
    wb.set_properties(
        {"title": "预算绩效目标汇总", "author": "perfxl", "created": FIXED_CREATED, "comments": f"perfxl {__version__}"}
    )
    with fewer_collections(), _pool(jobs if opts.fast else 1) as (pool, scratch):
        _write_sheets(wb, result, out, pool, scratch, pieces=jobs if pool is not None else 1, options=opts)
    try:
        wb.close()
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"无法写入 {out}：{exc.strerror or exc}") from exc
    return out


_NOTICED: list[bool] = []


def _notice_slow_path() -> None:
    """Once per process: the installed XlsxWriter lacks what the fast writer relies on."""
    if not _NOTICED:
        _NOTICED.append(True)
        logging.getLogger("perfxl").warning(
            "提示：已安装的 XlsxWriter 与快速写出方式不兼容（缺少 %s），改用较慢的标准方式写出汇总工作簿",
            fast.MISSING,
        )


@contextmanager
def _pool(jobs: int) -> Iterator[tuple[Executor | None, str]]:
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield None, ""
        return
    scratch = tempfile.mkdtemp(prefix="perfxl-")
    try:
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            yield pool, scratch
    finally:
        _PENDING.clear()  # whatever happened, drop the references to the merge result
        shutil.rmtree(scratch, ignore_errors=True)


def _write_sheets(
    wb: Any, result: MergeResult, out: Path, pool: Executor | None, scratch: str, pieces: int, options: WriterOptions
) -> None:
    w = _Writer(wb, out, pool, scratch, options)
    _indicators(w, result, pieces=pieces)  # first: workers render it while the other sheets are written
    _roster(w, result)
    _dept(w, result)
    _tasks(w, result)
    _projects(w, result)
    _checks(w, result)
    _findings(w, result)
    _changes(w, result)
    _overview(w, result)
    w.finish()
    _about(w, result)


def _print_setup(ws: Any) -> None:
    """A4 landscape, one page wide, page x of y in the footer."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C第 &P 页，共 &N 页")


OPEN_STATES = ("新发现", "仍存在", "仍存在（数值有变化）")
SETTLED = ("误报", "不适用", "已说明可接受")  # 处置 that close a problem without a resubmission


def _overview(w: _Writer, m: MergeResult) -> None:
    """One row per 主管部门: what was expected and received, money against money, problems open
    and resolved; two native charts (open problems by department, submission status)."""
    group = {r.entity: (r.competent or r.entity) for r in m.roster if r.entity}
    depts: dict[str, dict[str, Any]] = {}

    blank = {"expected": 0, "accepted": 0, "missing": 0, "exp": None, "projects": 0.0}
    blank |= {"errors": 0, "warnings": 0, "open": 0, "done": 0}

    def at(name: str) -> dict[str, Any]:
        return depts.setdefault(name or "（未识别）", dict(blank))

    for r in m.roster:
        if r.status not in ("accepted", "missing"):
            continue
        d = at(group.get(r.entity, r.entity))
        d["expected"] += r.catalog is not None
        d["accepted"] += r.status == "accepted"
        d["missing"] += r.status == "missing"
        sub = r.report.submission if r.report else None
        if r.status == "accepted" and sub is not None and sub.data is not None:
            fields = sub.data.fields
            amount = fields.get("exp_project") if r.kind == "dept" else fields.get("total")
            if isinstance(amount, (int, float)) and not isinstance(amount, bool):
                if r.kind == "dept":
                    d["exp"] = amount
                else:
                    d["projects"] += amount
    for f in m.findings:
        d = at(group.get(f.entity, f.entity))
        d["errors"] += f.severity.value == "error"
        d["warnings"] += f.severity.value == "warning"
        state = m.reviews.get(f.key)
        if state is not None:
            settled = state.notes.disposition in SETTLED
            d["open"] += state.status in OPEN_STATES and not settled
            d["done"] += settled
    for past, _state in m.gone:
        at(group.get(str(past.row.get("对象") or ""), str(past.row.get("对象") or "")))["done"] += 1
    cols = [
        Col("主管部门", 30),
        Col("应交", 7, "int"),
        Col("已接收", 7, "int"),
        Col("未提交", 7, "int"),
        Col("项目支出（万元）", 15, "money"),
        Col("项目表合计（万元）", 15, "money"),
        Col("错误", 7, "int"),
        Col("警告", 7, "int"),
        Col("未解决问题", 10, "int"),
        Col("已解决", 8, "int"),
        Col("解决比例", 9),
    ]
    rows = []
    for name, d in sorted(depts.items(), key=lambda kv: (-kv[1]["open"], kv[0])):
        total = d["open"] + d["done"]
        share = f"{d['done'] / total:.0%}" if total else ""
        rows.append([name, d["expected"], d["accepted"], d["missing"], d["exp"], d["projects"] or None,
                     d["errors"], d["warnings"], d["open"], d["done"], share])  # fmt: skip
    ws = w.table("概览", cols, rows)
    n = len(rows)
    if not n:
        return
    status = [(label, m.count(s)) for s, label in ROSTER_LABEL.items() if m.count(s)]
    top = n + 3
    ws.write_row(top, 0, ["提交情况", "个数"], w.f["header"])
    for i, (label, count) in enumerate(status, start=1):
        ws.write_string(top + i, 0, label, w.f["text"])
        ws.write_number(top + i, 1, count, w.f["int"])
    bars = w.wb.add_chart({"type": "bar"})
    bars.add_series({"name": "未解决问题", "categories": ["概览", 1, 0, n, 0], "values": ["概览", 1, 8, n, 8],
                     "fill": {"color": "#C00000"}})  # fmt: skip
    bars.set_title({"name": "各主管部门未解决问题", "name_font": {"name": FONT, "size": 12}})
    bars.set_legend({"none": True})
    bars.set_y_axis({"reverse": True, "num_font": {"name": FONT}})
    bars.set_size({"width": 520, "height": max(240, 28 * n + 80)})
    ws.insert_chart(top, 5, bars)  # below the table, right of the pie: prints on the same pages
    pie = w.wb.add_chart({"type": "pie"})
    pie.add_series({"name": "提交情况", "categories": ["概览", top + 1, 0, top + len(status), 0],
                    "values": ["概览", top + 1, 1, top + len(status), 1], "data_labels": {"value": True}})  # fmt: skip
    pie.set_title({"name": "提交情况", "name_font": {"name": FONT, "size": 12}})
    pie.set_size({"width": 380, "height": 280})
    ws.insert_chart(top + len(status) + 2, 0, pie)  # under the status counts, clear of the bar chart


def _about(w: _Writer, m: MergeResult) -> None:
    ws = w.sheets["说明"]
    ws.activate()
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 90)
    ws.set_row(0, 30)  # the 16-point title needs the height (it was clipped)
    ws.write_string(0, 0, "预算绩效目标汇总" + (f"（{m.year} 年度）" if m.year else ""), w.f["title"])
    stats = [
        (
            "输入文件",
            f"{m.inputs} 个：已接收 {m.count('accepted')}，被替代 {m.count('superseded')}，重复 "
            f"{m.count('duplicate')}，无法读取 {m.count('rejected')}，跳过 {m.count('skipped')}；"
            f"目录中未提交 {m.count('missing')} 项",
        ),
        ("交叉校验", f"{len(m.checks)} 项，其中不通过 {sum(c.status == 'fail' for c in m.checks)} 项"),
        (
            "问题",
            f"{len(m.findings)} 条：错误 {sum(f.severity.value == 'error' for f in m.findings)}，"
            f"警告 {sum(f.severity.value == 'warning' for f in m.findings)}，"
            f"提示 {sum(f.severity.value == 'info' for f in m.findings)}",
        ),
        (
            "概览",
            "每个主管部门一行：应交、已接收、未提交，项目支出与项目表合计，错误、警告、未解决和已解决的问题；两张图。",
        ),
        ("提交情况", "目录中每一项和每个输入文件一行：已接收、被替代、重复、无法读取、跳过、未提交。"),
        ("部门整体 / 项目", "每个已接收的部门、项目一行，金额单位万元。"),
        ("年度主要任务", "各部门年度主要任务逐行列出。"),
        ("绩效指标", "两类表的全部绩效指标：目标值原文，以及解析出的符号、数值、单位。"),
        (
            "交叉校验",
            "每条规则对每个对象的校验结果（通过的也列出），含左值、右值、差额和来源单元格链接；"
            "“核实情况”“处理意见”“处置”三列（黄色）留给审核人员填写，重新汇总时按问题编号保留。",
        ),
        (
            "问题清单",
            "全部问题，可按严重程度、文件筛选，点击单元格链接打开原文件；状态：新发现、仍存在、"
            "仍存在（数值有变化）、已整改（重新提交后消失）、未复核（消失但未重新提交），已消失的问题连同审核意见保留。",
        ),
        ("审核轮次", round_label(m.round, m.round_date)),
        *([("上一轮", m.previous_problem)] if m.previous_problem else []),
        ("生成工具", f"perfxl {__version__}"),
        *[("超出行数上限", note) for note in w.notes],
    ]
    for r, (k, v) in enumerate(stats, start=2):
        ws.write_string(r, 0, k, w.f["header"])
        ws.write_string(r, 1, v, w.f["wrap"])


def _roster(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("序号", 6, "int"),
        Col("类别", 10),
        Col("目录序号", 8),
        Col("名称", 34),
        Col("主管部门", 28),
        Col("状态", 14),
        Col("说明", 40),
        Col("文件", 40, "link"),
        Col("SHA-256", 20),
        Col("模板版本", 10),
        Col("年度", 8),
        Col("错误", 6, "int"),
        Col("警告", 6, "int"),
        Col("提示", 6, "int"),
    ]
    rows = []
    for i, r in enumerate(m.roster, start=1):
        rep = r.report
        meta = rep.submission.meta if rep and rep.submission else Meta()
        counts = [
            sum(f.severity.value == s for f in rep.findings) if rep else None for s in ("error", "warning", "info")
        ]
        rows.append(
            [
                i,
                KIND_TEXT.get(r.kind, r.kind),
                r.catalog.seq if r.catalog else "",
                r.entity,
                r.competent,
                ROSTER_LABEL[r.status],
                r.reason,
                w.link(r.path),
                rep.sha256 if rep else "",
                meta.spec_version,
                meta.year,
                *counts,
            ]
        )
    w.table("提交情况", cols, rows, status_col=5)


def _field_cols(kind: str) -> list[tuple[str, Col]]:
    out = []
    for f in get_spec(kind).fields:
        kind_of = "money" if f.type is ValueType.MONEY else "int" if f.type is ValueType.COUNT else "text"
        width = 14 if f.type in NUMERIC_TYPES else 40 if f.type is ValueType.LONGTEXT else 22
        out.append((f.id, Col(f.label + ("（万元）" if f.type is ValueType.MONEY else ""), width, kind_of)))
    return out


def _dept(w: _Writer, m: MergeResult) -> None:
    fcols = _field_cols("dept")
    cols = [
        Col("序号", 6, "int"),
        *[c for _, c in fcols],
        Col("任务行数", 8, "int"),
        Col("指标数", 8, "int"),
        Col("来源文件", 40, "source"),
    ]
    rows = []
    for i, rep in enumerate(m.accepted("dept"), start=1):
        d = rep.submission.data  # type: ignore[union-attr]
        assert d is not None
        rows.append(
            [
                i,
                *[d.fields.get(fid) for fid, _ in fcols],
                len(d.tables.get("tasks", [])),
                len(d.tables.get("indicators", [])),
                w.link(rep.path),
            ]
        )
    w.table("部门整体", cols, rows)


def _tasks(w: _Writer, m: MergeResult) -> None:
    t = get_spec("dept").table("tasks")
    cols = [
        Col("部门名称", 30),
        Col("行号", 6, "int"),
        *[
            Col(c.label, 14 if c.type in NUMERIC_TYPES else 26, "money" if c.type is ValueType.MONEY else "text")
            for c in t.columns
        ],
        Col("来源单元格", 40, "source"),
    ]
    rows = []
    for rep in m.accepted("dept"):
        sub = rep.submission
        assert sub is not None and sub.data is not None
        for i, row in enumerate(sub.data.tables.get("tasks", [])):
            rows.append(
                [
                    rep.entity,
                    sub.rows["tasks"][i] + 1,
                    *[row.get(c.id) for c in t.columns],
                    w.link(rep.path, sub.cell("tasks", i, t.columns[0].id)),
                ]
            )
    w.table("年度主要任务", cols, rows)


def _projects(w: _Writer, m: MergeResult) -> None:
    fcols = _field_cols("project")
    cols = [Col("序号", 6, "int"), *[c for _, c in fcols], Col("指标数", 8, "int"), Col("来源文件", 40, "source")]
    rows = []
    for i, rep in enumerate(m.accepted("project"), start=1):
        d = rep.submission.data  # type: ignore[union-attr]
        assert d is not None
        rows.append(
            [i, *[d.fields.get(fid) for fid, _ in fcols], len(d.tables.get("indicators", [])), w.link(rep.path)]
        )
    w.table("项目", cols, rows)


def _indicators(w: _Writer, m: MergeResult, pieces: int = 1) -> None:
    cols = [
        Col("类别", 10),
        Col("部门或项目名称", 30),
        Col("主管部门", 26),
        Col("行号", 6, "int"),
        Col("一级指标", 12),
        Col("二级指标", 16),
        Col("三级指标", 36),
        Col("目标值（原文）", 16),
        Col("符号", 6),
        Col("数值", 12),
        Col("单位", 10),
        Col("定性目标", 14),
        Col("来源单元格", 40, "source"),
    ]
    accepted = [r for r in m.roster if r.status == "accepted" and r.report and r.report.submission]

    def rows(part: list[RosterRow]) -> Iterator[list[Any]]:
        for r in part:
            assert r.report is not None and r.report.submission is not None
            sub = r.report.submission
            assert sub.data is not None
            targets = r.report.targets
            for i, row in enumerate(sub.data.tables.get("indicators", [])):
                t = targets[i] if i < len(targets) else None
                yield [
                    KIND_TEXT[r.kind],
                    r.entity,
                    r.competent,
                    sub.rows["indicators"][i] + 1,
                    row.get("level1"),
                    row.get("level2"),
                    row.get("level3"),
                    typed_target(row),
                    t.op if t else None,
                    t.number if t else None,
                    t.unit if t else None,
                    t.text if t else None,
                    w.link(r.path, sub.cell("indicators", i, "value")),
                ]

    sizes = [len(r.report.submission.data.tables.get("indicators", [])) for r in accepted]  # type: ignore[union-attr]
    total, cuts, run = sum(sizes), [0], 0
    for i, n in enumerate(sizes):  # pieces of about equal row counts
        run += n
        if len(cuts) < pieces and run >= total * len(cuts) / pieces and i + 1 < len(sizes):
            cuts.append(i + 1)
    cuts.append(len(accepted))
    w.table(
        "绩效指标", cols, Parts([(sum(sizes[a:b]), partial(rows, accepted[a:b])) for a, b in itertools.pairwise(cuts)])
    )


def _review_cells(m: MergeResult, key: str, problem: bool) -> list[Any]:
    """状态, 核实情况, 处理意见, 处置 and 首次发现 / 轮次 of a row, from this round's review."""
    r = m.reviews.get(key) if problem else None
    if r is None:
        return ["", "", "", "", "", ""]
    return [r.status, r.notes.checked, r.notes.advice, r.notes.disposition, r.first_seen, f"第 {r.first_round} 轮"]


def _checks(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("结果", 10),
        Col("严重程度", 8),
        Col("状态", 12),
        Col("对象", 28),
        Col("说明", 30),
        Col("左值", 14, "money"),
        Col("右值", 14, "money"),
        Col("差额", 14, "money"),
        *NOTE_COLS,
        Col("详情", 50),
        Col("来源", 36, "link"),
        Col("问题编号", 12),
        Col("首次发现", 11),
        Col("轮次", 7),
        Col("类别", 9),
        Col("主管部门", 20),
        Col("规则", 10),
    ]
    order = {"fail": 0, "incomplete": 1, "skip": 2, "pass": 3}
    checks = sorted(m.checks, key=lambda c: (order.get(c.status, 9), -c.severity.rank, c.kind, c.entity, c.rule_id))
    rows = []
    for c in checks:
        status, checked, advice, disposition, seen, rnd = _review_cells(m, c.key, c.status in ("fail", "incomplete"))
        rows.append(
            [
                STATUS_TEXT.get(c.status, c.status),
                c.severity.label if c.status == "fail" else "",
                status,
                c.entity,
                c.title,
                c.left,
                c.right,
                c.diff,
                checked,
                advice,
                disposition,
                c.detail,
                w.link(c.path, c.loc),
                c.key,
                seen,
                rnd,
                KIND_TEXT.get(c.kind, c.kind),
                c.competent,
                c.rule_id,
            ]
        )
    w.table("交叉校验", cols, rows, status_col=0)
    w.review_columns("交叉校验", cols, len(rows), print_to="处置")


NOTE_COLS = [Col("核实情况", 24, "note"), Col("处理意见", 24, "note"), Col("处置", 12, "note")]


def _findings(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("序号", 6, "int"),
        Col("严重程度", 8),
        Col("状态", 12),
        Col("对象", 28),
        Col("问题说明", 56),
        *NOTE_COLS,
        Col("期望", 12),
        Col("实际", 12),
        Col("位置", 34, "link"),
        Col("问题编号", 12),
        Col("首次发现", 11),
        Col("轮次", 7),
        Col("类别", 9),
        Col("规则", 10),
    ]
    sev = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(m.findings, key=lambda f: (sev[f.severity.value], f.file, f.sheet, f.cell, f.rule))
    rows: list[list[Any]] = []
    for i, f in enumerate(findings, start=1):
        loc = Loc(f.sheet, f.cell) if f.sheet and f.cell else None
        path = Path(f.file) if f.file else None
        status, checked, advice, disposition, seen, rnd = _review_cells(m, f.key, bool(f.key))
        rows.append(
            [
                i,
                f.severity.label,
                status,
                f.entity,
                f.message,
                checked,
                advice,
                disposition,
                _plain(f.expected),
                _plain(f.actual),
                w.link(path, loc),
                f.key,
                seen,
                rnd,
                KIND_TEXT.get(f.form, f.form),
                f.rule,
            ]
        )
    # problems of the last round that went away keep their rows and notes
    for past, r in m.gone:
        old = past.row
        rows.append(
            [
                len(rows) + 1,
                _plain(old.get("严重程度")),
                r.status,
                _plain(old.get("对象")),
                _plain(old.get("问题说明")),
                r.notes.checked,
                r.notes.advice,
                r.notes.disposition,
                _plain(old.get("期望")),
                _plain(old.get("实际")),
                _plain(old.get("位置")),
                past.key,
                r.first_seen,
                f"第 {r.first_round} 轮" if r.first_round else "",
                _plain(old.get("类别")),
                _plain(old.get("规则")),
            ]
        )
    w.table("问题清单", cols, rows, status_col=1)
    w.review_columns("问题清单", cols, len(rows), print_to="处置")


def _changes(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("对象", 28),
        Col("类别", 9),
        Col("变更项", 40),
        Col("原值", 30),
        Col("新值", 30),
        Col("对照", 24),
        Col("来源", 36, "link"),
    ]
    rows = [
        [
            c.entity,
            KIND_TEXT.get(c.kind, c.kind),
            c.item,
            _plain(c.old),
            _plain(c.new),
            c.against,
            w.link(c.path, c.loc),
        ]
        for c in m.changes
    ]
    w.table("变更记录", cols, rows)


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, float, str)) or v is None else str(v)
