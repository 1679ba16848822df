"""Uploaded files checked in worker processes, with a time and a memory limit.

The server must survive whatever is uploaded: the same isolation as `check` (a crash costs
only that file), plus limits, because a web server cannot wait forever or swap to death.
A worker checks one file at a time and is used again for the next upload: a fresh process
per upload cost more than the check itself (on Linux the fork and the pages it then copies,
~50 ms of CPU against ~40 ms for the check; elsewhere an interpreter start). A worker that
hits a limit or dies is never used again; a file that failed in a used worker is checked once
more in a fresh one, so that a verdict never depends on what a worker checked before.
On Linux workers are forked from the server, which loaded and warmed everything the check
needs at start (`preload`); they import nothing, so no lock another server thread might hold
at the fork is ever needed in them. They are forked by one long-lived thread of their own
(a process dies with the thread that forked it: `die_with_parent`), ahead of need.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from perfxl.check import FileReport, check_paths
from perfxl.workers import _context, die_with_parent

TIMEOUT_S = 60.0
MEMORY_MB = 2048
JOBS_PER_WORKER = 200  # then a fresh one: whatever a long-lived process accumulates stays bounded


def _serve(conn: Any, memory_mb: int, parent: int) -> None:
    """A worker: check the files it is sent, one at a time, until its pipe closes."""
    die_with_parent(parent)
    if sys.platform.startswith("linux"):
        import resource

        # a forked worker lives long: copies of the server's sockets and pipes it inherited would
        # keep them open (a closed connection's client never seeing the end, a pipe never its EOF)
        keep = conn.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)

        limit = memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with conn:
        while True:
            try:
                path, year, indicators = conn.recv()
            except (EOFError, OSError):
                return
            try:
                (report,) = check_paths([Path(path)], year=year, indicators=indicators).files
                conn.send(report)
            except MemoryError:
                conn.send("memory")
                return  # what is left of this process is not trusted with another file


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.jobs = 0
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, memory_mb, os.getpid()), daemon=True)  # type: ignore[attr-defined]
        self.proc.start()
        child.close()

    def check(self, path: Path, year: int | None, indicators: str | None, timeout: float) -> FileReport | str:
        """The report, or why there is none: "timeout", "memory" or "crashed"."""
        self.jobs += 1
        try:
            self.conn.send((str(path), year, indicators))
            if not self.conn.poll(timeout):
                return "timeout"
            got = self.conn.recv()
        except (EOFError, OSError):
            return "crashed"
        return got if isinstance(got, FileReport) else "memory"

    def end(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


class _Pool:
    """Idle workers, at most `keep` of them; one more is started whenever none is idle, so an
    upload never waits behind another (a hostile file may take its worker the full time limit)."""

    def __init__(self) -> None:
        self.keep = 4
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._forker: ThreadPoolExecutor | None = None

    def start(self, memory_mb: int) -> _Worker:
        with self._lock:
            if self._forker is None:
                self._forker = ThreadPoolExecutor(1, thread_name_prefix="perfxl-workers")
            forker = self._forker
        return forker.submit(_Worker, _context(), memory_mb).result()

    def take(self, memory_mb: int) -> _Worker:
        with self._lock:
            while self._idle:
                w = self._idle.pop()
                if w.memory_mb == memory_mb and w.proc.is_alive():
                    return w
                w.end()
        return self.start(memory_mb)

    def give(self, w: _Worker) -> None:
        with self._lock:
            if w.jobs < JOBS_PER_WORKER and len(self._idle) < self.keep and w.proc.is_alive():
                self._idle.append(w)
                return
        w.end()

    def fill(self, memory_mb: int = MEMORY_MB) -> None:
        """Start workers up to `keep` idle ones, now rather than at the first uploads."""
        while True:
            with self._lock:
                if len(self._idle) >= self.keep:
                    return
            self.give(self.start(memory_mb))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.end()


_POOL = _Pool()


def check_limited(
    path: Path,
    year: int | None,
    *,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
    indicators: Path | None = None,
) -> FileReport:
    """The file's report, or a rejected report saying which limit it hit (never raises).
    `indicators`: the round's common-indicator library (None: the packaged one)."""
    library = str(indicators) if indicators else None
    w = _POOL.take(memory_mb)
    got = w.check(path, year, library, timeout)
    if isinstance(got, str) and got != "timeout" and w.jobs > 1:  # maybe the worker, not the file
        w.end()
        w = _POOL.start(memory_mb)
        got = w.check(path, year, library, timeout)
    if isinstance(got, FileReport):
        _POOL.give(w)
        return got
    w.end()
    return _rejected(path, got)


def _rejected(path: Path, why: str) -> FileReport:
    text = {
        "timeout": "检查此文件超时（文件可能过大或被蓄意构造）",
        "memory": "检查此文件所需内存超出上限（文件可能过大或被蓄意构造）",
        "crashed": "读取此文件时程序异常终止（文件可能已损坏或被蓄意构造）",
    }[why]
    report = FileReport(path=path, status="rejected")
    report.add(rule="file.crashed", message=f"{text}；请用 Excel 或 WPS 打开后另存为新的 .xlsx 再提交")
    return report


def preload() -> None:
    """Load and warm the checker in this process before the first upload (pandas, pandera,
    the readers): forked workers inherit it instead of importing under other threads' locks."""
    import gc

    import perfxl.serve._warm  # noqa: F401

    gc.freeze()  # what is loaded now stays: children do not copy its pages to update GC headers (60 vs 95 ms)
    _POOL.fill()
