"""The largest sheets rendered by forked workers while the main process writes the others
(`merge --jobs`): 绩效指标 in pieces, the sheets with links (交叉校验, 问题清单) whole; the
pieces are spliced in order, so the workbook is byte-identical to the one written serially."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any

from perfxl import _xlsxwriter_fast as fast
from perfxl.isolate import die_with_parent


@dataclass
class Parts:
    """A big table as consecutive pieces (row count, fresh iterator), each made on demand:
    forked workers render the pieces at the same time when the merge runs with --jobs."""

    pieces: list[tuple[int, Callable[[], Iterator[Sequence[Any]]]]]
    # one per piece, for a table of one piece per submission: what its rows depend on besides the
    # row they start at; the writer then deflates each piece on its own and caches it (blocks.py)
    keys: list[str] | None = None

    @property
    def count(self) -> int:
        return sum(n for n, _ in self.pieces)

    def rows(self) -> Iterator[Sequence[Any]]:
        return chain.from_iterable(make() for _, make in self.pieces)


# What forked workers render: set by the parent before the workers start (they fork at the
# first task and see only what was here then). The last item is the sheet's hyperlink limit:
# 0 for pieces of a sheet without links, else the sheet is one piece, links rendered with it.
PENDING: dict[str, tuple[Parts, list[Any], list[bool], Any, int]] = {}
SIDE: list[Callable[[], bytes]] = []  # what `run_side` writes (the JSON of the merge), set the same way


def render_piece(args: tuple[str, int, int, str]) -> fast.Rendered:
    """Worker: one piece of a table's rows → a file of <row> elements (and its links)."""
    name, index, first_row, folder = args
    parts, formats, links, link_format, max_links = PENDING[name]
    make = parts.pieces[index][1]
    return fast.render_rows(make(), first_row, formats, links, link_format, folder, max_links)


def render_linked(args: tuple[str, int, int, str, int]) -> fast.Rendered:
    """Worker (or the writer itself, with no folder): one piece of a table with links as one
    deflated block, its hyperlinks rendered with it."""
    name, index, first_row, folder, level = args
    parts, formats, links, link_format, max_links = PENDING[name]
    make = parts.pieces[index][1]
    return fast.render_sheet_block(make(), first_row, formats, links, link_format, folder, level, max_links)


def run_side(args: tuple[str]) -> fast.Rendered:
    """Worker (or the writer itself): the side product written to a file."""
    (path,) = args
    with open(path, "wb") as fh:
        fh.write(SIDE[0]())
    return fast.Rendered(path)


def render_blocks(args: tuple[str, tuple[tuple[int, int], ...], str, int]) -> fast.Rendered:
    """Worker: pieces of a table, each (index, first row) → a deflated block, one after the other
    in a file; `Rendered.blocks` says where each one ends."""
    name, items, folder, level = args
    parts, formats, _links, link_format, _max = PENDING[name]
    return fast.render_blocks([(parts.pieces[i][1], first) for i, first in items], formats, link_format, folder, level)


@contextmanager
def pool(jobs: int) -> Iterator[tuple[Executor | None, str]]:
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield None, ""
        return
    scratch = tempfile.mkdtemp(prefix="perfxl-")
    try:
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with_parent,
            initargs=(os.getpid(), False),
        ) as pool:
            yield pool, scratch
    finally:
        PENDING.clear()  # whatever happened, drop the references to the merge result
        SIDE.clear()
        shutil.rmtree(scratch, ignore_errors=True)
