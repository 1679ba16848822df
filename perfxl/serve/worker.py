"""One uploaded file checked in its own process, with a time and a memory limit.

The server must survive whatever is uploaded: the same isolation as `check` (a crash costs
only that file), plus limits, because a web server cannot wait forever or swap to death.
On Linux each worker is forked from the server, which loaded and warmed everything the check
needs at start (`preload`): a few milliseconds per upload, and the child imports nothing, so
no lock another server thread might hold at the fork is ever needed in it. Elsewhere the
worker is spawned (an interpreter start per upload).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

from perfxl.check import FileReport, check_paths
from perfxl.isolate import die_with_parent

TIMEOUT_S = 60.0
MEMORY_MB = 2048


def _run(conn: Any, path: str, year: int | None, memory_mb: int, parent: int, indicators: str | None = None) -> None:
    die_with_parent(parent)
    if sys.platform.startswith("linux"):
        import resource

        limit = memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        (report,) = check_paths([Path(path)], year=year, indicators=indicators).files
        conn.send(report)
    except MemoryError:
        conn.send("memory")
    finally:
        conn.close()


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
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=_run,
        args=(send, str(path), year, memory_mb, os.getpid(), str(indicators) if indicators else None),
        daemon=True,
    )
    proc.start()
    send.close()
    why = "crashed"
    try:
        if recv.poll(timeout):
            got = recv.recv()
            if isinstance(got, FileReport):
                return got
            why = "memory"
        else:
            why = "timeout"
    except (EOFError, OSError):
        why = "crashed"
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    return _rejected(path, why)


def _rejected(path: Path, why: str) -> FileReport:
    text = {
        "timeout": "检查此文件超时（文件可能过大或被蓄意构造）",
        "memory": "检查此文件所需内存超出上限（文件可能过大或被蓄意构造）",
        "crashed": "读取此文件时程序异常终止（文件可能已损坏或被蓄意构造）",
    }[why]
    report = FileReport(path=path, status="rejected")
    report.add(rule="file.crashed", message=f"{text}；请用 Excel 或 WPS 打开后另存为新的 .xlsx 再提交")
    return report


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def preload() -> None:
    """Load and warm the checker in this process before the first upload (pandas, pandera,
    the readers): forked workers inherit it instead of importing under other threads' locks."""
    import gc

    import perfxl.serve._warm  # noqa: F401

    gc.freeze()  # what is loaded now stays: children do not copy its pages to update GC headers (60 vs 95 ms)
