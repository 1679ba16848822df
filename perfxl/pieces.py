"""The largest sheet rendered in pieces by forked workers while the main process writes the
others (`merge --jobs`); the pieces are spliced in order, so the workbook is byte-identical to the
one written serially."""

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

    @property
    def count(self) -> int:
        return sum(n for n, _ in self.pieces)

    def rows(self) -> Iterator[Sequence[Any]]:
        return chain.from_iterable(make() for _, make in self.pieces)


# What forked workers render: set by the parent just before the workers start.
PENDING: dict[str, tuple[Parts, list[Any], list[bool], Any]] = {}


def render_piece(args: tuple[str, int, int, str]) -> str:
    """Worker: one piece of a table's rows → a file of <row> elements; returns its path."""
    name, index, first_row, folder = args
    parts, formats, links, link_format = PENDING[name]
    return fast.render_rows(parts.pieces[index][1](), first_row, formats, links, link_format, folder)


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
            initargs=(os.getpid(),),
        ) as pool:
            yield pool, scratch
    finally:
        PENDING.clear()  # whatever happened, drop the references to the merge result
        shutil.rmtree(scratch, ignore_errors=True)
