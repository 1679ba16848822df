"""Check files in worker processes, so that one file cannot take the batch down.

Reading goes through native code (python-calamine, zlib, the XML parsers). Whatever a
hostile file makes native code do — abort, segfault, exhaust memory — ends that worker
process only: the chunk it was in is checked again in a fresh process, then file by file,
and the file that still kills its worker comes back rejected with a finding. Every other
file's result is what an in-process check gives.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from perfxl.check import CheckReport, FileReport, check_paths
from perfxl.inputs import collect
from perfxl.workers import Checkers, _checker, _context

Progress = Callable[[int], None]
CRASH_RULE = "file.crashed"


Settings = tuple[int | None, Path | None]  # what a check depends on besides the file: year, library


def _check_chunk(args: tuple[list[Path], Settings]) -> list[FileReport]:
    paths, (year, indicators) = args
    return check_paths(paths, year=year, indicators=indicators).files


def _crashed(path: Path) -> FileReport:
    report = FileReport(path=path, status="rejected")
    report.add(
        rule=CRASH_RULE,
        message="读取此文件时程序异常终止（文件可能已损坏或被蓄意构造），已单独列出；"
        "请用 Excel 或 WPS 打开后另存为新的 .xlsx 再提交",
    )
    return report


def _alone(paths: list[Path], year: Settings) -> list[FileReport] | None:
    """One chunk in a fresh single-worker process; None if that process died."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=_context(), initializer=_checker, initargs=(os.getpid(),)
    ) as pool:
        try:
            return pool.submit(_check_chunk, (paths, year)).result()
        except Exception:  # BrokenProcessPool, or a result that could not come back
            return None


def _recover(paths: list[Path], year: Settings) -> list[FileReport]:
    """A chunk whose worker died: again in a fresh process, then file by file."""
    whole = _alone(paths, year)
    if whole is not None:
        return whole
    out: list[FileReport] = []
    for p in paths:
        one = _alone([p], year) if len(paths) > 1 else None
        out += one if one is not None else [_crashed(p)]
    return out


def check_files(
    files: Sequence[str | Path],
    year: int | None = None,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    meanwhile: Callable[[], object] | None = None,
    indicators: str | Path | None = None,
    checkers: Checkers | None = None,
) -> CheckReport:
    """Check files and folders (walked as `merge` walks them) as `perfxl check` does: in `jobs`
    worker processes (at least one), so that a file crashing native code costs only that file;
    results in input order, what the walk skipped in `skipped`. `meanwhile` runs in this
    process while the workers check (a re-merge loads its cached reports then). `checkers`:
    workers started ahead, used instead of a pool of its own (the caller closes them)."""
    paths: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for f in map(Path, files):
        if f.is_dir():
            found, passed = collect([f])
            paths += found
            skipped += passed
        else:
            paths.append(f)
    from perfxl.library import load_library

    load_library(Path(indicators) if indicators else None)  # an unusable library: one error, here, not per file
    settings: Settings = (year, Path(indicators) if indicators else None)
    if not paths:
        if meanwhile is not None:
            meanwhile()
        return CheckReport([], skipped)
    jobs = max(1, jobs)
    size = max(1, min(200, -(-len(paths) // (jobs * 4))))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    ctx = _context()
    if checkers is not None and len(chunks) > 1:
        checkers.close()
        checkers = None
    if checkers is None and ctx.get_start_method() == "fork" and len(chunks) > 1:
        # load once here: forked workers inherit it (saves ~0.7 s each). A single chunk loads it
        # in its worker, at the same time as `meanwhile` here.
        import pandera.pandas  # noqa: F401
    results: list[list[FileReport] | None] = [None] * len(chunks)
    own: contextlib.AbstractContextManager[ProcessPoolExecutor]
    if checkers is not None:
        own = contextlib.nullcontext(checkers.pool)
    else:
        own = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_checker, initargs=(os.getpid(),))
    with own as pool:
        futures: list[Future[list[FileReport]]] = [pool.submit(_check_chunk, (c, settings)) for c in chunks]
        if meanwhile is not None:
            meanwhile()
        for i, fut in enumerate(futures):
            try:
                results[i] = fut.result()
            except Exception:  # BrokenProcessPool: this chunk and all still pending are checked again below
                continue
            if progress:
                progress(len(chunks[i]))
    out: list[FileReport] = []
    for chunk, result in zip(chunks, results, strict=True):
        if result is None:
            result = _recover(chunk, settings)
            if progress:
                progress(len(chunk))
        out += result
    return CheckReport(out, skipped)
