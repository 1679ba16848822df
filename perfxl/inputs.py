"""Inputs given on the command line or to the library → files to read and files skipped.

Every path given or met while walking a folder comes out exactly once, in one list or the
other, with a Chinese reason for each skipped one: merge's roster and check's report both
account for every input this way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from perfxl.errors import PerfxlError, os_reason

WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}  # .xls/.ods: re-saves of our templates


def collect(inputs: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to read and files skipped (with why); folders are walked recursively, sorted.

    Every path given or met on the way comes out exactly once, in one list or the other:
    links are followed once (a link back into a folder already walked, a loop, a dangling
    link or an unreadable folder is listed with its reason), and a file reached under a
    second name (link, hard link, given twice) is listed as the same file."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    seen: dict[tuple[int, int], Path] = {}
    walked: set[str] = set()

    def consider(p: Path) -> None:
        try:
            st = p.stat()
        except (OSError, RuntimeError) as exc:
            skipped.append((p, f"无法读取：{os_reason(exc)}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            skipped.append((p, f"重复：与 {seen[key]} 是同一个文件（链接或重复给出的路径），只读取一次"))
            return
        seen[key] = p
        name = p.name
        if name.startswith("~$"):
            skipped.append((p, "Excel/WPS 打开文件时产生的临时锁文件"))
        elif name.startswith("."):
            skipped.append((p, "隐藏文件"))
        elif p.suffix.lower() == ".xlsb":
            skipped.append((p, "Excel 二进制工作簿（.xlsb），请另存为 .xlsx 后重新提交"))
        elif p.suffix.lower() not in WORKBOOK_SUFFIXES:
            skipped.append((p, f"不是 xlsx 工作簿（{p.suffix or '无扩展名'}）"))
        else:
            files.append(p)

    def walk(folder: Path) -> None:
        real = os.path.realpath(folder)
        if real in walked:
            skipped.append((folder, "指向已读取文件夹的链接（避免重复或循环），未再次读取"))
            return
        walked.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append((folder, f"文件夹无法读取：{os_reason(exc)}"))
            return
        for e in entries:
            p = Path(e.path)
            try:
                is_dir = e.is_dir()  # follows links; False for dangling ones and loops
            except OSError:
                is_dir = False
            if is_dir and e.name.startswith("."):
                skipped.append((p, "隐藏文件夹，未读取"))
            elif is_dir:
                walk(p)
            else:
                consider(p)

    for item in inputs:
        if item.is_dir():
            walk(item)
        elif item.exists() or os.path.lexists(item):
            consider(item)
        else:
            raise PerfxlError(f"输入不存在：{item}")
    return files, skipped
