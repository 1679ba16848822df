"""MergeResult → the district consolidated workbook (XlsxWriter), deterministic.

Sheets in order: 说明, 提交情况, 部门整体, 年度主要任务, 项目, 绩效指标, 交叉校验,
问题清单. Every value from a submission is written as a string or a number,
never through write(), so text such as `=100%` or `@SUM(A1)` stays text.
Links to source files are relative to the workbook, so the folder can move.
"""

from __future__ import annotations

import csv
import itertools
import multiprocessing
import os
import re
import shutil
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from math import isfinite
from pathlib import Path
from typing import Any, Literal

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.url import Url
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

from perfxl import __version__
from perfxl.errors import OutputError
from perfxl.forms import get_spec
from perfxl.forms.model import NUMERIC_TYPES, ValueType
from perfxl.isolate import die_with_parent
from perfxl.merging import ROSTER_LABEL, MergeResult, RosterRow, fewer_collections
from perfxl.package import FIXED_CREATED, Meta
from perfxl.read import Loc

FONT = "宋体"
SHEETS = ("说明", "提交情况", "部门整体", "年度主要任务", "项目", "绩效指标", "交叉校验", "问题清单")
EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet; larger tables spill to CSV beside the workbook
MAX_LINKS = 65_000  # Excel keeps at most 65,530 hyperlinks per worksheet
MAX_URL = 2079  # characters in a hyperlink address (and, separately, in its location)
FAST_ROWS = True  # False: every cell through XlsxWriter's own API (the reference the tests compare with)
MONEY = "#,##0.00"
STATUS_TEXT = {"pass": "通过", "fail": "不通过", "skip": "未校验（数据不全）", "incomplete": "数据不完整"}
KIND_TEXT = {"dept": "部门整体", "project": "项目支出", "": ""}


DEFLATE_LEVEL = 1  # see _Workbook
# what stands in for NaN or infinity, should one ever get this far (the reader already
# refuses them): Excel cannot open a workbook holding such a number
NOT_A_NUMBER = "（无效数值）"
PARALLEL_MIN_ROWS = 20_000  # below this, forking workers to render a sheet costs more than it saves


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


class _PartSink:
    """Stands in for the worksheet in a worker: rows go to a file, nothing else is kept."""

    constant_memory = False

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.hyperlinks: dict[int, dict[int, Any]] = defaultdict(dict)
        self.hlink_count = 0
        self.previous_row = 0
        self._escape_control_characters = XMLwriter._escape_control_characters

    def _check_dimensions(self, row: int, col: int) -> int:
        return 0


# What forked workers render: set by the parent just before the workers start.
_PENDING: dict[str, tuple[Parts, list[Any], list[bool], Any]] = {}


def _render_piece(args: tuple[str, int, int, str]) -> str:
    """Worker: one piece of a table's rows → a file of <row> elements; returns its path."""
    name, index, first_row, folder = args
    parts, formats, links, link_format = _PENDING[name]
    fd, path = tempfile.mkstemp(suffix=".xml", dir=folder)
    with open(fd, "w", encoding="utf-8") as fh:
        sink: Any = _PartSink(fh)  # duck-types the sheet attributes write_fast_rows uses
        _FastSheet.write_fast_rows(sink, first_row, parts.pieces[index][1](), formats, links, link_format, 0)
    return path


@dataclass(frozen=True)
class Col:
    header: str
    width: float
    kind: str = "text"  # text / money / int / link / status


class _FastSheet(Worksheet):  # type: ignore[misc]
    """A worksheet that appends whole rows of values in constant-memory mode.

    XlsxWriter spends ~8 µs per cell on bookkeeping; a city-wide merge writes millions
    of cells. Rows go out here as the same XML XlsxWriter writes (tests compare the
    bytes with the cell-by-cell path), hyperlinks included, at a fraction of the cost.
    """

    def write_fast_rows(
        self,
        first_row: int,
        rows: Iterable[Sequence[Any]],
        formats: Sequence[Any],
        links: Sequence[bool],
        link_format: Any,
        max_links: int,
    ) -> bool:
        """Write rows from `first_row`; (url, text) cells in `links` columns become hyperlinks
        while the sheet has fewer than `max_links`, then their text. Returns whether any link
        was refused for the limit. The formats must already have their style index (`_Writer`)."""
        if self.constant_memory:
            self._write_single_row(first_row)  # flush what is pending (the header row)
        fh = self.fh
        xfs = [f' s="{f._get_xf_index()}"' if f is not None else "" for f in formats]
        link_xf = f' s="{link_format._get_xf_index()}"'
        letters = [xl_col_to_name(c) for c in range(len(formats))]
        esc_ctrl = self._escape_control_characters
        overflow = False
        i = -1
        for i, row in enumerate(rows):  # i counts the rows afterwards
            rn = first_row + i + 1
            texts = [v[1] if type(v) is tuple else v for v in row]
            # one search per row decides whether any cell needs escaping (tab never matches)
            plain = not _ANY_SPECIAL.search("\t".join(v for v in texts if type(v) is str))
            out = [f'<row r="{rn}">']
            for c, v in enumerate(row):
                xf = xfs[c]
                if type(v) is tuple:
                    url, v = v
                    if v is None or v == "":
                        continue
                    if links[c]:
                        if self.hlink_count < max_links and _link_ok(url):
                            xf = link_xf
                            link = Url(url)
                            link._text = v
                            self.hyperlinks[rn - 1][c] = link
                            self.hlink_count += 1
                        else:
                            overflow = overflow or self.hlink_count >= max_links
                elif v is None or v == "":
                    continue
                if type(v) is bool:
                    v = "是" if v else "否"
                elif type(v) is int or (type(v) is float and isfinite(v)):
                    out.append(f'<c r="{letters[c]}{rn}"{xf}><v>{v:.16G}</v></c>')
                    continue
                elif type(v) is float:
                    v = NOT_A_NUMBER
                text = v[:32767] if type(v) is str else str(v)[:32767]
                if not plain or type(v) is not str:
                    if _NEEDS_ESCAPE.search(text):  # rare: control characters or literal _xHHHH_
                        text = esc_ctrl(text)
                    if _XML_SPECIAL.search(text):
                        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
                out.append(f'<c r="{letters[c]}{rn}"{xf} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            out.append("</row>")
            fh.write("".join(out))
        if i >= 0:
            last = first_row + i
            self._check_dimensions(last, len(formats) - 1)
            self.previous_row = last + 1
        return overflow

    def _write_optimized_sheet_data(self) -> None:
        """XlsxWriter's, copying the streamed rows as bytes: a city-wide sheet has hundreds of MB
        of XML, which XlsxWriter decodes and re-encodes as text on the way."""
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
            return
        self._xml_start_tag("sheetData")
        self.row_data_fh.flush()
        self.fh.flush()
        with open(self.row_data_filename, "rb") as rows:
            shutil.copyfileobj(rows, self.fh.buffer, 1 << 20)
        self.row_data_fh.close()
        os.unlink(self.row_data_filename)
        self._xml_end_tag("sheetData")


def _link_ok(url: str) -> bool:
    """Within Excel's 2,079-character limit for the address and the location alike."""
    return all(len(part.encode("utf-16-le", "surrogatepass")) // 2 <= MAX_URL for part in url.split("#", 1))


_XML_SPECIAL = re.compile(r"[&<>]")
_NEEDS_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_ANY_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


class _Writer:
    def __init__(self, wb: Any, out: Path, pool: Executor | None = None, scratch: str = "") -> None:
        self.wb = wb
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
        self.sheets = {name: wb.add_worksheet(name, worksheet_class=_FastSheet) for name in SHEETS}
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
        }
        # Cell formats take their style index on first use, and constant-memory mode fixes it in
        # the XML at once: number them here, in one order, whatever each sheet happens to use.
        for key in ("header", "text", "wrap", "money", "int", "link", "title"):
            self.f[key]._get_xf_index()

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
        for c, col in enumerate(cols):
            ws.set_column(c, c, col.width)
        ws.write_row(0, 0, [c.header for c in cols], self.f["header"])
        ws.set_row(0, 30)
        limit = EXCEL_MAX_ROWS - 1  # the header takes one row
        body: Iterable[Sequence[Any]] = make()
        spilled = count > limit
        if spilled:
            csv_path = self.spill(name, cols, body)
            self.notes.append(
                f"“{name}”共 {count} 行，超过 Excel 每表 {EXCEL_MAX_ROWS:,} 行的上限："
                f"表中只列前 {limit:,} 行，完整内容见同一文件夹中的 {csv_path.name}"
            )
            count = limit
            body = islice(make(), limit)
        links = [c.kind == "link" for c in cols]
        # pieces render all their rows: only for a table that fits the sheet, without links
        if (
            FAST_ROWS
            and self.pool is not None
            and isinstance(rows, Parts)
            and count >= PARALLEL_MIN_ROWS
            and not spilled
            and not any(links)
        ):
            self._start_pieces(name, rows, [self._format_of(c) for c in cols], links)
            overflow = False
        elif FAST_ROWS:
            overflow = ws.write_fast_rows(1, body, [self._format_of(c) for c in cols], links, self.f["link"], MAX_LINKS)
        else:
            overflow = False
            for r, row in enumerate(body, start=1):
                for c, (col, value) in enumerate(zip(cols, row, strict=True)):
                    overflow = self._cell(ws, r, c, col, value) or overflow
        if overflow:
            self.notes.append(f"“{name}”的链接超过 Excel 每表 {MAX_LINKS:,} 个的上限，其后各行的来源以文字列出")
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
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        if note:
            ws.write_comment(0, 0, note)
        return ws

    def _start_pieces(self, name: str, parts: Parts, formats: list[Any], links: list[bool]) -> None:
        assert self.pool is not None
        ws = self.sheets[name]
        ws._write_single_row(1)  # the header row goes out first
        for sheet in self.sheets.values():  # nothing buffered for a forked child to ever flush twice
            sheet.fh.flush()
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
                path = future.result()
                ws.fh.flush()  # then append the piece's bytes after what the text layer holds
                with open(path, "rb") as fh:
                    shutil.copyfileobj(fh, ws.fh.buffer, 1 << 20)
                os.unlink(path)
            if count:
                ws._check_dimensions(count, ncols - 1)
                ws.previous_row = count + 1
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

    def _format_of(self, col: Col) -> Any:
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
        if url is not None and col.kind == "link" and ws.hlink_count < MAX_LINKS and _link_ok(url):
            ws.write_url(r, c, url, self.f["link"], string=value)
            return False
        if isinstance(value, bool):
            ws.write_string(r, c, "是" if value else "否", fmt)
        elif isinstance(value, (int, float)) and isfinite(value):
            ws.write_number(r, c, value, fmt)
        elif isinstance(value, float):  # NaN or infinity would make the workbook unopenable
            ws.write_string(r, c, NOT_A_NUMBER, fmt)
        else:
            ws.write_string(r, c, str(value)[:32767], fmt)
        return url is not None and col.kind == "link" and ws.hlink_count >= MAX_LINKS


class _FastDeflate(zipfile.ZipFile):
    def __init__(self, file: str, mode: Literal["w"], **kwargs: Any) -> None:
        super().__init__(file, mode, compresslevel=DEFLATE_LEVEL, **kwargs)


class _Workbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """XlsxWriter deflates at zlib's default level 6. A city-wide merge packs several hundred MB
    of sheet XML; level 1 deflates it about 2.3× faster for a file about 28 % larger (measured at 2,000)."""

    def _store_workbook(self) -> None:
        saved = xlsxwriter.workbook.ZipFile
        xlsxwriter.workbook.ZipFile = _FastDeflate  # only while this workbook is packed
        try:
            super()._store_workbook()
        finally:
            xlsxwriter.workbook.ZipFile = saved


def write_consolidated(result: MergeResult, out: str | Path, *, jobs: int = 1) -> Path:
    """Write the workbook atomically (temporary file, then rename). With jobs > 1 (and fork
    available), workers render the largest sheet while this process writes the others."""
    out = Path(out)
    out_dir = out.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"无法写入 {out}：{exc.strerror or exc}") from exc
    # constant_memory streams rows to temporary files: a city-wide merge has millions of cells.
    # The result goes to a temporary name beside the target and is renamed when complete.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    wb = _Workbook(
        str(tmp),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "max_url_length": MAX_URL,
        },
    )
    wb.set_properties(
        {"title": "预算绩效目标汇总", "author": "perfxl", "created": FIXED_CREATED, "comments": f"perfxl {__version__}"}
    )
    with fewer_collections(), _pool(jobs) as (pool, scratch):
        _write_sheets(wb, result, out, pool, scratch, pieces=jobs if pool is not None else 1)
    try:
        wb.close()
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"无法写入 {out}：{exc.strerror or exc}") from exc
    return out


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


def _write_sheets(wb: Any, result: MergeResult, out: Path, pool: Executor | None, scratch: str, pieces: int) -> None:
    w = _Writer(wb, out, pool, scratch)
    _indicators(w, result, pieces=pieces)  # first: workers render it while the other sheets are written
    _roster(w, result)
    _dept(w, result)
    _tasks(w, result)
    _projects(w, result)
    _checks(w, result)
    _findings(w, result)
    w.finish()
    _about(w, result)


def _about(w: _Writer, m: MergeResult) -> None:
    ws = w.sheets["说明"]
    ws.activate()
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 90)
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
        ("提交情况", "目录中每一项和每个输入文件一行：已接收、被替代、重复、无法读取、跳过、未提交。"),
        ("部门整体 / 项目", "每个已接收的部门、项目一行，金额单位万元。"),
        ("年度主要任务", "各部门年度主要任务逐行列出。"),
        ("绩效指标", "两类表的全部绩效指标：目标值原文，以及解析出的符号、数值、单位。"),
        (
            "交叉校验",
            "每条规则对每个对象的校验结果（通过的也列出），含左值、右值、差额和来源单元格链接；"
            "“核实情况”“处理意见”两列留给审核人员填写。",
        ),
        ("问题清单", "全部问题，可按严重程度、文件筛选，点击单元格链接打开原文件。"),
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
                value = row.get("value")
                typed = "".join(
                    (
                        str(row.get("op") or ""),
                        "" if value is None else str(value),
                        " " + str(row["unit"]) if row.get("unit") else "",
                    )
                )
                yield [
                    KIND_TEXT[r.kind],
                    r.entity,
                    r.competent,
                    sub.rows["indicators"][i] + 1,
                    row.get("level1"),
                    row.get("level2"),
                    row.get("level3"),
                    typed.strip(),
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


def _checks(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("规则", 26),
        Col("说明", 36),
        Col("类别", 10),
        Col("对象", 30),
        Col("主管部门", 26),
        Col("左值", 14, "money"),
        Col("右值", 14, "money"),
        Col("差额", 14, "money"),
        Col("结果", 12),
        Col("严重程度", 8),
        Col("详情", 50),
        Col("来源", 40, "link"),
        Col("核实情况", 24),
        Col("处理意见", 24),
    ]
    order = {"fail": 0, "incomplete": 1, "skip": 2, "pass": 3}
    checks = sorted(m.checks, key=lambda c: (order.get(c.status, 9), -c.severity.rank, c.kind, c.entity, c.rule_id))
    rows = [
        [
            c.rule_id,
            c.title,
            KIND_TEXT.get(c.kind, c.kind),
            c.entity,
            c.competent,
            c.left,
            c.right,
            c.diff,
            STATUS_TEXT.get(c.status, c.status),
            c.severity.label if c.status == "fail" else "",
            c.detail,
            w.link(c.path, c.loc),
            "",
            "",
        ]
        for c in checks
    ]
    w.table("交叉校验", cols, rows, status_col=8)


def _findings(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("序号", 6, "int"),
        Col("严重程度", 8),
        Col("对象", 30),
        Col("类别", 10),
        Col("规则", 28),
        Col("问题说明", 60),
        Col("位置", 40, "link"),
        Col("期望", 14),
        Col("实际", 14),
    ]
    sev = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(m.findings, key=lambda f: (sev[f.severity.value], f.file, f.sheet, f.cell, f.rule))
    rows = []
    for i, f in enumerate(findings, start=1):
        loc = Loc(f.sheet, f.cell) if f.sheet and f.cell else None
        path = Path(f.file) if f.file else None
        link = w.link(path, loc)
        rows.append(
            [
                i,
                f.severity.label,
                f.entity,
                KIND_TEXT.get(f.form, f.form),
                f.rule,
                f.message,
                link,
                _plain(f.expected),
                _plain(f.actual),
            ]
        )
    w.table("问题清单", cols, rows, status_col=1)


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, float, str)) or v is None else str(v)
