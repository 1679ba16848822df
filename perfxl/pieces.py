"""The largest sheets rendered by forked workers while the main process writes the others
(`merge --jobs`): 绩效指标 in pieces, the sheets with links (交叉校验, 问题清单) whole; the
pieces are spliced in order, so the workbook is byte-identical to the one written serially."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import xlsxwriter

from perfxl import _xlsxwriter_fast as fast
from perfxl.blocks import Linked, block_key
from perfxl.workers import die_with_parent


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


# What is rendered apart (by forked workers, or by the writer itself): set by the parent before
# the workers start (they fork at the first task and see only what was here then). The last item
# is the sheet's hyperlink limit (0 for a sheet without links). Each task's last argument is the
# folder its blocks go to: the workers' scratch folder, or "" to keep them in memory.
PENDING: dict[str, tuple[Parts, list[Any], list[bool], Any, int]] = {}
# the header and rows (all, or those read_previous does not skip) of the sheets it reads, set
# the same way: what the worker that works out the next merge's previous round reads (read_back)
READ_BACK: dict[str, tuple[list[str], Callable[[], Iterable[Sequence[Any]]]]] = {}
SIDE: list[Callable[[], bytes]] = []  # what `run_side` writes (the JSON of the merge), set the same way
# with a cache, set the same way: the pieces with links the last workbook had (by key), and
# PIECE_KEY[0], what every piece's key starts from (the writer's settings); empty without a cache
LINKED: dict[str, Linked] = {}
PIECE_KEY: list[str] = []
CACHED_AT_MOST = 10_000  # rows of a piece held at once to be keyed


def render_linked(args: tuple[str, int, int, int, str]) -> fast.Rendered:
    """One piece of a table with links as one deflated block, its hyperlinks rendered with it;
    with a cache, not rendered when the last workbook had the same piece (`stored`)."""
    name, index, first_row, level, folder = args
    parts, formats, links, link_format, max_links = PENDING[name]
    count, make = parts.pieces[index]
    rows: Iterable[Sequence[Any]] = make()
    key = ""
    if PIECE_KEY and count <= CACHED_AT_MOST:  # (a sheet near the link limit is one piece: made as it goes)
        rows = list(rows)
        key = piece_key(PIECE_KEY[0], name, first_row, level, formats, links, link_format, max_links, rows)
        if key in LINKED:
            return fast.Rendered("", key=key, stored=True)
    done = fast.render_sheet_block(rows, first_row, formats, links, link_format, level, max_links, folder)
    return replace(done, key=key)


def piece_key(settings: str, name: str, first_row: int, level: int, formats: list[Any], links: list[bool],
              link_format: Any, max_links: int, rows: list[Sequence[Any]]) -> str:  # fmt: skip
    """A piece's cache key: everything its block and links depend on, its rows by their repr
    (which tells 1 from 1.0 and "1", and gives floats exactly). A row of another kind of value
    than the sheets write would only miss: repr then names the object."""
    styles = ",".join("-" if f is None else str(f._get_xf_index()) for f in formats)
    flags = "".join("1" if x else "0" for x in links)
    head = block_key(settings, xlsxwriter.__version__, name, first_row, level, styles, flags,
                     link_format._get_xf_index(), max_links)  # fmt: skip
    digest = hashlib.sha256(head.encode())
    for row in rows:
        digest.update(repr(row).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def render_blocks(args: tuple[str, tuple[tuple[int, int], ...], int, str]) -> fast.Rendered:
    """Pieces of a table, each (index, first row) → a deflated block."""
    name, items, level, folder = args
    parts, formats, _links, link_format, _max = PENDING[name]
    return fast.render_blocks([(parts.pieces[i][1], first) for i, first in items], formats, link_format, level, folder)


def run_side(args: tuple[str, str]) -> fast.Rendered:
    """The side product written to its file (the writer's scratch folder plays no part)."""
    path, _folder = args
    with open(path, "wb") as fh:
        fh.write(SIDE[0]())
    return fast.Rendered(path)


def read_back(args: tuple[tuple[str, ...], str]) -> bytes:
    """The problems `read_previous` will read from these tables once written, pickled
    (review.round_of; the writer adds what the small sheets say)."""
    import pickle

    from perfxl.review import NotExact, as_read, round_of

    names, _folder = args
    try:
        sheets = {}
        for name in names:
            header, rows = READ_BACK[name]
            sheets[name] = [as_read(header), *(as_read(row) for row in rows())]
    except NotExact:
        return b""
    return pickle.dumps(round_of(sheets).problems, protocol=pickle.HIGHEST_PROTOCOL)


@contextmanager
def pool(jobs: int) -> Iterator[tuple[Executor | None, str]]:
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        try:
            yield None, ""
        finally:
            _clear()
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
        _clear()
        shutil.rmtree(scratch, ignore_errors=True)


def _clear() -> None:
    """Whatever happened, drop the references to the merge result and the stored pieces."""
    PENDING.clear()
    READ_BACK.clear()
    SIDE.clear()
    LINKED.clear()
    PIECE_KEY.clear()
