"""MergeResult → the district consolidated workbook (XlsxWriter), deterministic.

Sheets in order: 说明, 提交情况, 部门整体, 年度主要任务, 项目, 绩效指标, 交叉校验,
问题清单. Every value from a submission is written as a string or a number,
never through write(), so text such as `=100%` or `@SUM(A1)` stays text.
Links to source files are relative to the workbook, so the folder can move.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from math import isfinite
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl import __version__, pieces
from perfxl import _xlsxwriter_fast as fast
from perfxl.blocks import Block, Linked, block_key
from perfxl.cache import ReportCache, round_key, settings_key
from perfxl.errors import OutputError
from perfxl.links import SourceLinks
from perfxl.merging import MergeResult, fewer_collections
from perfxl.package import FIXED_CREATED
from perfxl.pieces import Parts
from perfxl.report import merge_json
from perfxl.review import DISPOSITIONS, NotExact, as_read, round_of
from perfxl.spill import spill_csv

FONT = "宋体"
SHEETS = (
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
)
EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet; larger tables spill to CSV beside the workbook
MAX_LINKS = 65_000  # Excel keeps at most 65,530 hyperlinks per worksheet
MONEY = "#,##0.00"
STATUS_TEXT = {"pass": "通过", "fail": "不通过", "skip": "未校验（数据不全）", "incomplete": "数据不完整",
               "unchecked": "无法校验"}  # fmt: skip


PARALLEL_MIN_ROWS = 5_000  # below this, a worker rendering a sheet costs more than it saves
PIECE_ROWS = 3_000  # 交叉校验 and 问题清单 in pieces: workers and this process share them


@dataclass(frozen=True, kw_only=True)
class WriterOptions:
    """How the consolidated workbook is written; the defaults are what users get. Tests pass
    other values (small limits, the cell-by-cell reference path) instead of patching globals."""

    fast_rows: bool = True  # False: every cell through XlsxWriter's public API (the reference)
    max_links: int = MAX_LINKS
    max_rows: int = EXCEL_MAX_ROWS
    parallel_min_rows: int = PARALLEL_MIN_ROWS
    deflate_level: int = 1
    piece_rows: int = PIECE_ROWS  # the sheets with links go out in pieces of this many rows

    @property
    def fast(self) -> bool:
        """Fast rows, if the installed XlsxWriter still has what they rely on."""
        return self.fast_rows and fast.AVAILABLE


@dataclass
class _Table:
    """A table whose rows are rendered apart (by workers, or as blocks): `finish` puts them in."""

    name: str
    count: int
    ncols: int
    at: int  # where the note a refused link gives goes among the writer's notes
    futures: list[Future[fast.Rendered]] = field(default_factory=list)
    blocks: list[Block | None] | None = None  # a table of blocks; None where one is being rendered
    keys: list[str] = field(default_factory=list)  # the blocks' cache keys
    holes: list[list[int]] = field(default_factory=list)  # which blocks each future renders
    side: bool = False  # not a table: something else made from the result (the JSON), in a file


@dataclass(frozen=True)
class Col:
    header: str
    width: float
    kind: str = "text"  # text / money / int / link / status


class _Writer:
    def __init__(
        self,
        wb: Any,
        out: Path,
        pool: Executor | None = None,
        scratch: str = "",
        options: WriterOptions | None = None,
        store: ReportCache | None = None,
        settings: str = "",
        pieces: int = 1,
    ) -> None:
        self.wb = wb
        self.opts = options or WriterOptions()
        self.pool = pool
        self.scratch = scratch
        self.pieces = pieces  # how many parts a table for the workers is cut into
        self.store = store  # where blocks of earlier merges are kept (blocks.py)
        self.settings = settings  # what every block depends on: tool version, year, limits, library (settings_key)
        self.block_keys: set[str] = set()  # every block of this workbook
        self._found: dict[str, Block] | None = None
        self.new_blocks: list[tuple[str, Block]] = []  # and those rendered for it
        self.linked_keys: set[str] = set()  # every piece with links of this workbook (pieces.LINKED)
        self.new_linked: list[tuple[str, Linked]] = []  # and those rendered for it
        self.queued: list[tuple[_Table, Callable[[Any], Any], Any]] = []  # not yet started
        self.pending: list[_Table] = []
        self.asked: list[tuple[Future[fast.Rendered], Callable[[Any], fast.Rendered], Any]] = []  # queue order
        self.out = out
        self.out_dir = out.parent
        self.notes: list[str] = []
        self.link = SourceLinks(self.out_dir)
        self.spilled: list[Path] = []
        # what read_previous will read back from the sheets it reads, as written (review.round_of);
        # None once something was written that would not read back exactly
        self.read_back: dict[str, list[list[Any]]] | None = {} if self.opts.fast else None
        self.round_task: _Table | None = None
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

    def table(
        self,
        name: str,
        cols: Sequence[Col],
        rows: Sequence[Sequence[Any]] | Parts,
        status_col: int | None = None,
        note: str = "",
        header_height: int = 30,
        read_back: Callable[[], Iterable[Sequence[Any]]] | None = None,
    ) -> Any:
        """`rows` is a list, or `Parts` for the big sheets: rows are then made as they are
        written (twice if the table spills to CSV) instead of all held at once. `read_back`: of
        a sheet read_previous reads, the rows it does not skip, if not all (for `round_to_keep`)."""
        parts = rows if isinstance(rows, Parts) else Parts([(len(rows), partial(iter, rows))])
        count, make = parts.count, parts.rows
        ws = self.sheets[name]
        for c, col in enumerate(cols):  # note columns: empty cells open for typing too
            ws.set_column(c, c, col.width, self.f["note"] if col.kind == "note" else None)
        ws.write_row(0, 0, [c.header for c in cols], self.f["header"])
        ws.set_row(0, header_height)
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
        if name in BIG_READ_BACK or name in SMALL_READ_BACK:
            header = [c.header for c in cols]
            if spilled:
                self.read_back = None
            elif isinstance(rows, Parts):  # for the worker that reads them back (read_back_task)
                pieces.READ_BACK[name] = (header, read_back or rows.rows)
            else:
                self.keep_read_back(name, [header, *rows])
        links = [c.kind == "link" for c in cols]
        if self.opts.fast and isinstance(rows, Parts) and not spilled:  # the big tables, as deflated blocks
            formats = [self._format_of(c) for c in cols]
            if rows.keys is not None and not any(links):
                self._blocks(name, rows, formats)
            else:
                self._linked(name, rows, formats, links)
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
            self.notes.append(self._overflow_note(name))
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

    def pieces_of(self, count: int, make: Callable[[int, int], Iterator[Sequence[Any]]]) -> Parts:
        """A table of `count` rows as pieces of `piece_rows` (`make(a, b)` gives rows a..b-1): the
        same pieces whatever the number of workers, so the same bytes."""
        size = max(1, self.opts.piece_rows)
        return Parts(
            [(min(b + size, count) - b, partial(make, b, min(b + size, count))) for b in range(0, count, size)]
        )

    def _linked(self, name: str, parts: Parts, formats: list[Any], links: list[bool]) -> None:
        """A table in pieces of fixed size (交叉校验, 问题清单): each piece's rows and hyperlinks
        rendered and deflated as one block, by the workers when the table is large, else here.
        Pieces let the workers and this process share the largest sheets; their hyperlinks are
        numbered on when they are joined. Where the sheet could reach Excel's hyperlink limit, one
        piece (which link is refused depends on all before it). With a cache, a piece the last
        workbook had, row for row at the same place, is taken from it (`pieces.render_linked`):
        from the third round on, most of them when little changed (a row added or gone moves the
        rest of the sheet)."""
        limit = self.opts.max_links if any(links) else 0
        if limit and parts.count * sum(links) > limit and len(parts.pieces) > 1:
            parts = Parts([(parts.count, parts.rows)])
        if self.store is not None and not pieces.PIECE_KEY:  # read before the workers fork
            pieces.LINKED.update(self.store.linked_all())
            pieces.PIECE_KEY.append(self.settings)
        pieces.PENDING[name] = (parts, formats, links, self.f["link"], limit)
        n = len(parts.pieces)
        table = _Table(
            name, parts.count, len(formats), len(self.notes), blocks=[None] * n, holes=[[i] for i in range(n)]
        )
        parallel, first = parts.count >= self.opts.parallel_min_rows, 1
        for i, (rows, _make) in enumerate(parts.pieces):
            self._task(table, pieces.render_linked, name, i, first, self.opts.deflate_level, parallel=parallel)
            first += rows
        self.pending.append(table)

    def _blocks(self, name: str, parts: Parts, formats: list[Any]) -> None:
        """A table of one piece per submission: each piece's rows deflated on their own, taken from
        the store where an earlier merge made the same block, else rendered (by the workers when
        there are many)."""
        assert parts.keys is not None
        level = self.opts.deflate_level
        styles = ",".join(str(f._get_xf_index()) for f in formats)
        keys, firsts, first = [], [], 1
        for (n, _make), identity in zip(parts.pieces, parts.keys, strict=True):
            keys.append(block_key(self.settings, name, level, styles, first, n, identity))
            firsts.append(first)
            first += n
        self.block_keys.update(keys)
        found = self._stored()
        blocks: list[Block | None] = [found.get(k) for k in keys]
        todo = [i for i, b in enumerate(blocks) if b is None]
        table = _Table(name, parts.count, len(formats), len(self.notes), blocks=blocks, keys=keys)
        pieces.PENDING[name] = (parts, formats, [False] * len(formats), self.f["link"], 0)
        rows = sum(parts.pieces[i][0] for i in todo)
        parallel = self.pool is not None and rows >= self.opts.parallel_min_rows
        share, run, group = rows / (self.pieces if parallel else 1), 0, []
        for i in todo:  # groups of about equal row counts, a group more than workers
            group.append(i)
            run += parts.pieces[i][0]
            if run >= share or i == todo[-1]:
                items = tuple((j, firsts[j]) for j in group)
                self._task(table, pieces.render_blocks, name, items, level, parallel=parallel)
                table.holes.append(group)
                run, group = 0, []
        self.pending.append(table)

    def _stored(self) -> dict[str, Block]:
        """The blocks the last workbook used, read once for all tables (the next ones are skipped)."""
        if self._found is None:
            self._found = self.store.blocks_all() if self.store is not None else {}
        return self._found

    def keep_read_back(self, name: str, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of a small sheet `read_previous` reads, as they will read back (`as_read`)."""
        if self.read_back is None:
            return
        try:
            self.read_back[name] = [as_read(row) for row in rows]
        except NotExact:
            self.read_back = None

    def read_back_task(self) -> None:
        """Have a worker work out the problems `read_previous` will read back from the big sheets it
        reads (交叉校验, 问题清单: 0.3 CPU-s at 2,000 submissions), last, while this process packs
        the workbook (a worker is idle by then; this process never takes it over, see `finish`).
        Without workers or a cache to keep it in, nothing: the next merge reads the workbook back."""
        if self.store is None or self.read_back is None or self.pool is None:
            return
        if not set(BIG_READ_BACK) <= set(pieces.READ_BACK):
            return
        self.round_task = _Table("", 0, 0, 0, side=True)
        self.queued.append((self.round_task, pieces.read_back, (BIG_READ_BACK, "")))

    def round_to_keep(self, out: Path) -> tuple[str, bytes] | None:
        """What keeps the round the next merge will read from the workbook written (`out`), by its
        SHA-256 (ReportCache.keep_round); None when it would not be exact."""
        if self.read_back is None or self.round_task is None or set(self.read_back) != set(SMALL_READ_BACK):
            return None
        try:
            problems = self.round_task.futures[0].result()
        except Exception:  # the worker died: the next merge reads the workbook back
            return None
        if not isinstance(problems, bytes):
            return None
        head = round_of(self.read_back)
        blob = pickle.dumps((head.number, head.date, head.files, problems), protocol=pickle.HIGHEST_PROTOCOL)
        return round_key(out.read_bytes()), blob

    def side(self, path: Path, make: Callable[[], bytes]) -> None:
        """Have `make()` written to `path` by a worker while the sheets are written (the JSON of
        the same result), or by this process when it has no workers or they are busy."""
        pieces.SIDE[:] = [make]
        table = _Table("", 0, 0, 0, side=True)
        self._task(table, pieces.run_side, str(path))
        self.pending.append(table)

    def _task(self, table: _Table, fn: Callable[[Any], fast.Rendered], *args: Any, parallel: bool = True) -> None:
        """fn(args) for `table`, the folder for its blocks last: queued for the workers (their
        scratch folder), or, without workers or when not worth one, made now (kept in memory)."""
        if self.pool is not None and parallel:
            self.queued.append((table, fn, (*args, self.scratch)))
            return
        here: Future[fast.Rendered] = Future()
        here.set_result(fn((*args, "")))
        table.futures.append(here)

    def warm_links(self, paths: Iterable[Path]) -> None:
        """Parse the links to these files once, before the workers fork: each would parse every
        file its pieces link to again (2,000 parses per worker in a re-merge of 2,000)."""
        if self.opts.fast and self.pool is not None:
            fast.warm_urls(link[0] for p in paths if (link := self.link(p)) is not None)

    def launch(self) -> None:
        if not self.queued:
            return
        assert self.pool is not None
        for sheet in self.sheets.values():  # nothing buffered for a forked child to ever flush twice
            fast.flush(sheet)
        for table, fn, args in self.queued:
            future = self.pool.submit(fn, args)
            table.futures.append(future)
            self.asked.append((future, fn, args))
        self.queued = []

    def finish(self) -> None:
        """Splice the rows rendered by workers into their sheets, in order. What no worker has
        started yet, this process renders itself (from the end of the queue): it has finished
        its own sheets and would otherwise wait; and what a worker failed to render (killed, out
        of memory), it renders again."""
        self.launch()
        task_of = {id(future): (fn, args) for future, fn, args in self.asked}
        mine = self.round_task.futures if self.round_task is not None else []
        for future, fn, args in reversed(self.asked):
            if future not in mine and future.cancel():
                local: Future[fast.Rendered] = Future()
                local.set_result(fn(args))
                table = next(t for t in self.pending if future in t.futures)
                table.futures[table.futures.index(future)] = local
                task_of[id(local)] = (fn, args)
        self.asked = []
        for table in reversed(self.pending):
            overflow = False
            for k, future in enumerate(table.futures):
                try:
                    done = future.result()
                except Exception:  # BrokenProcessPool and the like: the piece is rendered here instead
                    fn, args = task_of[id(future)]
                    done = fn(args)
                if table.side:
                    continue
                assert table.blocks is not None
                stored = done.stored
                if stored:
                    done = _stored_piece(done.key)
                for i, block in zip(table.holes[k], fast.read_blocks(done), strict=True):
                    table.blocks[i] = block
                    if table.keys:
                        self.new_blocks.append((table.keys[i], block))
                    if done.key:
                        self.linked_keys.add(done.key)
                        if not stored:
                            self.new_linked.append(
                                (done.key, Linked(block, done.links_xml, done.rels, done.links, done.overflow))
                            )
                fast.adopt_links(self.sheets[table.name], done)
                overflow = overflow or done.overflow
            if table.side:
                continue
            ws = self.sheets[table.name]
            fast.header_out(ws)
            ws.blocks = table.blocks
            fast.set_extent(ws, table.count, table.ncols)
            pieces.PENDING.pop(table.name, None)
            if overflow:
                self.notes.insert(table.at, self._overflow_note(table.name))
        self.pending = []
        if self.store is not None and self.block_keys:
            self.store.keep_blocks(self.new_blocks, self.block_keys)
        if self.store is not None and pieces.PIECE_KEY:
            self.store.keep_linked(self.new_linked, self.linked_keys)

    def _overflow_note(self, name: str) -> str:
        return f"“{name}”的链接超过 Excel 每表 {self.opts.max_links:,} 个的上限，其后各行的来源以文字列出"

    def spill(self, name: str, cols: Sequence[Col], rows: Iterable[Sequence[Any]]) -> Path:
        path = spill_csv(self.out, name, [c.header for c in cols], rows)
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


def _stored_piece(key: str) -> fast.Rendered:
    """A piece with links the cache holds, as if rendered here."""
    p = pieces.LINKED[key]
    made = ((p.block.size, p.block.zcrc, len(p.block.data)),)
    return fast.Rendered("", p.links_xml, p.rels, p.links, p.overflow, made, p.block.data, key=key)


def write_consolidated(
    result: MergeResult,
    out: str | Path,
    *,
    jobs: int = 1,
    options: WriterOptions | None = None,
    cache: str | Path | None = None,
    json_path: str | Path | None = None,
) -> Path:
    """Write the workbook atomically (temporary file, then rename). With jobs > 1 (and fork
    available), workers render the largest sheets while this process writes the others;
    `meanwhile` runs here once this process has nothing left but to wait for them (or at the
    end, without workers): the JSON of the same result, for instance."""
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
    library = result.library.sha256 if result.library is not None else ""
    json_out = Path(json_path) if json_path is not None else None
    json_tmp = json_out.with_name(f".{json_out.name}.{os.getpid()}.tmp") if json_out is not None else None
    store = ReportCache(Path(cache), library) if cache is not None and opts.fast else None
    try:
        with fewer_collections(), pieces.pool(jobs if opts.fast else 1) as (pool, scratch):
            from perfxl.sheets import write_sheets  # the sheets' content; this module is how they get written

            # one piece more than workers: this process renders what they have not started when it is done
            parts = jobs + 1 if pool is not None else 1
            w = _Writer(wb, out, pool, scratch, opts, store, settings_key(result.year, library), parts)
            if json_tmp is not None:
                w.side(json_tmp, lambda: merge_json(result).encode("utf-8"))
            write_sheets(w, result)
            try:  # packed while the workers still run: one works out the round kept with the workbook
                wb.close()
                os.replace(tmp, out)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise OutputError(f"无法写入 {out}：{exc.strerror or exc}") from exc
            kept = w.round_to_keep(out) if store is not None else None
    except BaseException:
        fast.discard(wb)
        if json_tmp is not None:  # a worker or this process may have written it already
            json_tmp.unlink(missing_ok=True)
        if store is not None:
            store.close()
        raise
    if store is not None:
        if kept is not None:
            store.keep_round(*kept)
        store.close()
    if json_out is not None and json_tmp is not None:
        try:
            os.replace(json_tmp, json_out)
        except OSError as exc:
            json_tmp.unlink(missing_ok=True)
            raise OutputError(f"无法写入 {json_out}：{exc.strerror or exc}") from exc
    return out


# the sheets read_previous reads: the big ones in pieces (read back by a worker), the small ones
# here (说明's rows handed over by sheets._about, which writes it cell by cell)
BIG_READ_BACK = ("交叉校验", "问题清单")
SMALL_READ_BACK = ("说明", "提交情况")

_NOTICED: list[bool] = []


def _notice_slow_path() -> None:
    """Once per process: the installed XlsxWriter lacks what the fast writer relies on."""
    if not _NOTICED:
        _NOTICED.append(True)
        logging.getLogger("perfxl").warning(
            "提示：已安装的 XlsxWriter 与快速写出方式不兼容（缺少 %s），改用较慢的标准方式写出汇总工作簿",
            fast.MISSING,
        )


def _print_setup(ws: Any) -> None:
    """A4 landscape, one page wide, page x of y in the footer."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C第 &P 页，共 &N 页")
