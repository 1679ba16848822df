"""One uploaded file checked in its own process, with a time and a memory limit.

The server must survive whatever is uploaded: the same isolation as `check` (a crash costs
only that file), plus limits, because a web server cannot wait forever or swap to death.
On Linux the worker is forked from a parent that has already loaded everything (a few
milliseconds); elsewhere it is spawned (an interpreter start per upload).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

from perfxl.check import FileReport, check_paths
from perfxl.isolate import _context, die_with_parent

TIMEOUT_S = 60.0
MEMORY_MB = 2048


def _run(conn: Any, path: str, year: int | None, memory_mb: int, parent: int) -> None:
    die_with_parent(parent)
    if sys.platform.startswith("linux"):
        import resource

        limit = memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        (report,) = check_paths([Path(path)], year=year).files
        conn.send(report)
    except MemoryError:
        conn.send("memory")
    finally:
        conn.close()


def check_limited(
    path: Path, year: int | None, *, timeout: float = TIMEOUT_S, memory_mb: int = MEMORY_MB
) -> FileReport:
    """The file's report, or a rejected report saying which limit it hit (never raises)."""
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(  # type: ignore[attr-defined]
        target=_run, args=(send, str(path), year, memory_mb, os.getpid()), daemon=True
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


def preload() -> None:
    """Load what a check needs before forking workers (each would otherwise load pandas)."""
    if multiprocessing.get_start_method(allow_none=True) in (None, "fork") and _context().get_start_method() == "fork":
        import pandera.pandas  # noqa: F401
