"""The `perfxl` console script: perfxl.cli.run, after a merge's checking worker has started.

A re-merge waits for that worker more than for anything else: it loads pandera (0.6 s) to check
the files that changed. Started here, before the command loads perfxl (0.2 s), it loads pandera
while this process loads perfxl, the previous round and the cached reports.
"""

from __future__ import annotations

import sys


def run() -> None:
    early(sys.argv[1:])
    from perfxl.cli import run as command

    command()


def early(args: list[str]) -> None:
    """What `perfxl <args>` can start before perfxl is loaded: a merge's checking worker."""
    if args[:1] == ["merge"] and not {"-h", "--help"} & set(args):
        from perfxl.workers import start_early

        start_early()
