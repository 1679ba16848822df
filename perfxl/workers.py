"""How worker processes start and end, with nothing of the checking loaded.

Standard library only, on purpose: the `perfxl` command starts a merge's checking worker from
here before it loads the rest of perfxl (perfxl.entry), so that the worker loads pandera while
the command loads everything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor


def _context() -> multiprocessing.context.BaseContext:
    """fork where it is safe and cheap (Linux: workers inherit the loaded modules); spawn
    elsewhere (Windows, macOS), which costs an interpreter start per worker."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def die_with_parent(parent: int | None = None, collect: bool = True) -> None:
    """Worker initializer: end this worker when the process that started it ends, even by
    SIGKILL (Linux; elsewhere the pool's own shutdown has to do). `collect`: the cyclic
    collector back on, which a merge turns off (`merging.fewer_collections`): checking makes
    cyclic garbage; rendering rows (pieces) makes none and had better not scan the inherited heap."""
    if collect:
        gc.enable()
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:  # the parent was gone before prctl
        os._exit(1)


def _checker(parent: int) -> None:
    """Initializer of a checking worker: die_with_parent, and pandera's data-synthesis strategies
    left without hypothesis. pandera imports it at the first validation when it is installed (a
    test tool, in many environments): 0.2 s in every checking process, for strategies checking
    never uses. Where the parent had imported it already (a test run), it stays."""
    die_with_parent(parent)
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]  # None: import raises ImportError


def _warm() -> None:
    import pandera.pandas  # noqa: F401

    import perfxl.isolate  # noqa: F401  # what a check task unpickles to (loaded already when forked late)


class Checkers:
    """A checking worker started before it is known what it will check: a merge starts it first
    thing, so that it loads pandera (0.4 s) while the merge hashes its files and loads its cached
    reports. It takes a single chunk (a re-merge's changed files); more go to a pool of `jobs`
    (isolate.check_files). `close` ends it, busy or not (a merge where nothing changed)."""

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_checker,
                                        initargs=(os.getpid(),))  # fmt: skip
        self.pool.submit(_warm)

    def close(self) -> None:
        for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):  # loading pandera for nothing: no need to wait for it
                proc.kill()
        with contextlib.suppress(Exception):
            self.pool.shutdown(wait=False, cancel_futures=True)


_EARLY: list[Checkers] = []  # started by perfxl.entry, taken by the merge command


def start_early() -> None:
    """Start the checking worker a merge will take (`take_early`): where workers are forked,
    before the command has loaded perfxl, as the worker loads what it needs itself anyway."""
    if not _EARLY and _context().get_start_method() == "fork":
        _EARLY.append(Checkers())


def take_early() -> Checkers | None:
    return _EARLY.pop() if _EARLY else None
