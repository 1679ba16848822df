"""Per-file check results kept between merges, so that a re-merge only checks what changed.

A bureau re-merges after every corrected file. Each file's FileReport is stored in an embedded
SQLite file under a key made of everything the result depends on: the tool version, the budget
year asked for, the reading limits, the file's path and the SHA-256 of its bytes. A file that
changed, moved or is checked by another version simply misses. A file untouched since the last
merge (same inode, size and times, settled when it was hashed) is not read again to be hashed.
A cache that cannot be opened or read (damaged, locked, written by something else) is set aside
and rebuilt: it can make a merge faster, never different.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import sqlite3
import time
import zlib
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path

from perfxl import __version__
from perfxl.blocks import Block, Linked
from perfxl.check import FileReport
from perfxl.limits import Limits
from perfxl.review import PreviousRound

# sha: the file's SHA-256 alone, so that a re-merge finds the report of the file the previous
# round accepted (its data, for the change list) without reading the previous workbook
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS reports2 (key TEXT PRIMARY KEY, sha TEXT NOT NULL, report BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS reports2_sha ON reports2 (sha);"
    "DROP TABLE IF EXISTS reports;"  # the first layout, without sha
    # pre-deflated blocks of the last workbook's sheets (perfxl/blocks.py); dcrc: _seal
    "CREATE TABLE IF NOT EXISTS blocks (key TEXT PRIMARY KEY, size INTEGER NOT NULL, zcrc INTEGER NOT NULL,"
    " dcrc INTEGER NOT NULL, data BLOB NOT NULL);"
    # pieces of the last workbook's sheets with links (blocks.Linked): links is JSON [xml, rels, count, overflow]
    "CREATE TABLE IF NOT EXISTS linked (key TEXT PRIMARY KEY, size INTEGER NOT NULL, zcrc INTEGER NOT NULL,"
    " dcrc INTEGER NOT NULL, data BLOB NOT NULL, links TEXT NOT NULL);"
    # each input file's SHA-256 with the file's identity and times when it was hashed (`digest`)
    "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, stat TEXT NOT NULL, sha TEXT NOT NULL);"
    # the last workbook written, as read_previous will read it (review.round_of), by its SHA-256
    "CREATE TABLE IF NOT EXISTS rounds (key TEXT PRIMARY KEY, data BLOB NOT NULL);"
)
# a file whose times are this close to the moment it was hashed may still have been changing then
# (file systems keep times to a tick: FAT to two seconds): its digest is not reused
_SETTLED_NS = 2_000_000_000


# The reports this process unpickled last, with the bytes they came from. A long-running process
# (`perfxl serve`) merges again and again and would unpickle the same 2,000 reports each time
# (0.25 s); the same bytes give the same report, and nothing changes a report once checked.
# Kept for merges of up to LOADED_AT_MOST files (2,000 hold about 85 MB between merges).
_LOADED: dict[str, tuple[bytes, FileReport]] = {}
LOADED_AT_MOST = 5_000


class ReportCache:
    """check results by content; see the module docstring."""

    def __init__(self, path: Path, library: str = "") -> None:
        self.path = path
        self.library = library  # the common-indicator library's SHA-256: part of every key
        self._prefixes: dict[int | None, str] = {}  # by year: the same for every file of a merge
        self._folders: dict[Path, Path] = {}
        self._digests: dict[str, tuple[str, str]] | None = None  # path → (stat, sha), read once
        self._hashed: list[tuple[str, str, str]] = []  # (path, stat, sha) to keep
        self.db = self._open()

    def _open(self) -> sqlite3.Connection | None:
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5)
                db.executescript(_SCHEMA)
                db.execute("SELECT count(*) FROM reports2").fetchone()
                return db
            except (sqlite3.Error, OSError):
                if attempt == 0:  # not a cache we can use: set it aside once and start a new one
                    with contextlib.suppress(OSError):
                        self.path.unlink()
        return None

    def prefix(self, year: int | None) -> str:
        """What every key for `year` starts with (made once: it reads the limits' environment)."""
        if year not in self._prefixes:
            self._prefixes[year] = settings_key(year, self.library)
        return self._prefixes[year]

    def key(self, path: Path, raw: bytes, year: int | None) -> str:
        return self._key(year, str(self._where(path)), hashlib.sha256(raw).hexdigest())

    def _key(self, year: int | None, where: str, sha: str) -> str:
        return f"{self.prefix(year)}{where}|{sha}"

    def file_key(self, path: Path, year: int | None) -> str:
        """`key` of a file as it is now. Its SHA-256 is taken from the last merge when the file
        is the same one, untouched since: same device, inode, size, modification and
        status-change times, and those times settled before it was hashed. Otherwise its bytes
        are read and hashed (and the digest kept). Raises OSError as reading would.
        (On POSIX the status-change time cannot be set back but by the clock, so an edit that
        keeps the size and restores the modification time is still seen; on Windows that time is
        the creation time, and only such a deliberate restore would go unseen.)"""
        where = str(self._where(path))
        st = path.stat()
        stat = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        if self._digests is None:
            self._digests = self._read_digests()
        kept = self._digests.get(where)
        if kept is not None and kept[0] == stat:
            return self._key(year, where, kept[1])
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS:
            self._hashed.append((where, stat, sha))
        return self._key(year, where, sha)

    def _read_digests(self) -> dict[str, tuple[str, str]]:
        if self.db is None:
            return {}
        try:
            return {p: (st, sha) for p, st, sha in self.db.execute("SELECT path, stat, sha FROM digests")}
        except sqlite3.Error:
            return {}

    def _where(self, path: Path) -> Path:
        """The file's absolute path, its folder resolved once for all its files (resolving each
        file costs a system call per path component: thousands of files share a few folders).
        A file that is itself a symbolic link is resolved on its own."""
        if path.is_symlink():
            return path.resolve()
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = path.parent.resolve()
        return folder / path.name

    def get(self, key: str) -> FileReport | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, FileReport]:
        """`get` of many keys, a few queries for all: those found and readable. An entry whose
        bytes are those this process unpickled last time (`_LOADED`) gives that report again."""
        found: dict[str, FileReport] = {}
        if self.db is None:
            return found
        keep = len(keys) <= LOADED_AT_MOST  # (else not even the bytes are held through the loop)
        loaded: dict[str, tuple[bytes, FileReport]] = {}
        for at in range(0, len(keys), 500):
            chunk = keys[at : at + 500]
            try:
                rows = self.db.execute(
                    f"SELECT key, report FROM reports2 WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            except sqlite3.Error:
                continue
            for key, blob in rows:
                was = _LOADED.get(key)
                if was is not None and was[0] == blob:
                    report = was[1]
                else:
                    try:
                        report = pickle.loads(blob)
                    except Exception:  # unreadable entry: the file is checked again
                        continue
                    if not isinstance(report, FileReport):
                        continue
                found[key] = report
                if keep:
                    loaded[key] = (blob, report)
        _LOADED.clear()  # the last merge's only
        _LOADED.update(loaded)
        return found

    def known(self, keys: set[str]) -> set[str]:
        """Which of these keys have an entry (without loading any)."""
        if self.db is None or not keys:
            return set()
        try:
            return {k for (k,) in self.db.execute("SELECT key FROM reports2") if k in keys}
        except sqlite3.Error:
            return set()

    def by_sha(self, sha: str, year: int | None) -> FileReport | None:
        """The report of a file with these bytes, checked by this version with these settings,
        wherever it lay (a replaced file is still here under its old key)."""
        if self.db is None or not sha:
            return None
        try:
            rows = self.db.execute("SELECT key, report FROM reports2 WHERE sha = ?", (sha,)).fetchall()
            prefix = self.prefix(year)
            for key, blob in sorted(rows):
                if key.startswith(prefix):
                    report = pickle.loads(blob)
                    if isinstance(report, FileReport) and report.sha256 == sha:
                        return report
        except Exception:  # unreadable entry: the caller reads the previous workbook instead
            return None
        return None

    def put(self, items: list[tuple[str, FileReport]]) -> None:
        """Keep these reports, and the digests `file_key` made."""
        hashed, self._hashed = self._hashed, []
        if self.db is None or not (items or hashed):
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO digests (path, stat, sha) VALUES (?, ?, ?)", hashed)
                self.db.executemany(  # pickled one at a time: 20,000 reports are 170 MB of pickles
                    "INSERT OR REPLACE INTO reports2 (key, sha, report) VALUES (?, ?, ?)",
                    ((k, k.rpartition("|")[2], pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) for k, r in items),
                )
        except sqlite3.Error:  # full disk, read-only folder: the merge itself is unaffected
            pass

    def blocks_all(self) -> dict[str, Block]:
        """Every stored block (the table holds the last workbook's only); one whose bytes do not
        match their checksum is left out (rendered again), and so is everything when the table
        cannot be read."""
        if self.db is None:
            return {}
        found = {}
        try:
            for key, size, zcrc, dcrc, data in self.db.execute("SELECT key, size, zcrc, dcrc, data FROM blocks"):
                if type(data) is not bytes or type(size) is not int or type(zcrc) is not int:
                    continue
                if _seal(data, size, zcrc) == dcrc:
                    found[key] = Block(data, size, zcrc)
        except sqlite3.Error:
            return {}
        return found

    def keep_blocks(self, new: list[tuple[str, Block]], used: set[str]) -> None:
        """Store the blocks rendered by this merge and drop those it did not use: the table holds
        what the next merge can reuse, not every round's."""
        rows = [(k, b.size, b.zcrc, _seal(b.data, b.size, b.zcrc), b.data) for k, b in new]
        self._keep_only("blocks", ("key", "size", "zcrc", "dcrc", "data"), rows, used)

    def _keep_only(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]], used: set[str]
    ) -> None:
        """`rows` stored in `table`, and of what was there only the keys in `used` kept."""
        if self.db is None:
            return
        try:
            with self.db:
                stale = [(k,) for (k,) in self.db.execute(f"SELECT key FROM {table}") if k not in used]
                self.db.executemany(f"DELETE FROM {table} WHERE key = ?", stale)
                self.db.executemany(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    rows,
                )
        except sqlite3.Error:  # full disk, read-only folder: the workbook itself is unaffected
            pass

    def linked_all(self) -> dict[str, Linked]:
        """Every stored piece with links (the last workbook's), as `blocks_all`: one whose bytes or
        links do not match their checksum, or are not what a piece holds, is left out."""
        if self.db is None:
            return {}
        found = {}
        try:
            for key, size, zcrc, dcrc, data, links in self.db.execute(
                "SELECT key, size, zcrc, dcrc, data, links FROM linked"
            ):
                if type(data) is not bytes or type(size) is not int or type(zcrc) is not int or type(links) is not str:
                    continue
                if _seal_linked(data, links, size, zcrc) != dcrc:
                    continue
                with contextlib.suppress(ValueError, TypeError):
                    xml, rels, count, overflow = json.loads(links)
                    rels = tuple((a, b, c) for a, b, c in rels)
                    if type(xml) is str and type(count) is int and type(overflow) is bool:
                        found[key] = Linked(Block(data, size, zcrc), xml, rels, count, overflow)
        except sqlite3.Error:
            return {}
        return found

    def keep_linked(self, new: list[tuple[str, Linked]], used: set[str]) -> None:
        """As `keep_blocks`, for pieces with links."""
        rows: list[tuple[object, ...]] = []
        for k, p in new:
            links = json.dumps([p.links_xml, p.rels, p.links, p.overflow], ensure_ascii=False)
            seal = _seal_linked(p.block.data, links, p.block.size, p.block.zcrc)
            rows.append((k, p.block.size, p.block.zcrc, seal, p.block.data, links))
        self._keep_only("linked", ("key", "size", "zcrc", "dcrc", "data", "links"), rows, used)

    def keep_round(self, key: str, blob: bytes) -> None:
        """Keep what the next merge will read from the workbook just written (key: `round_key`;
        blob: number, date, files and pickled problems), in place of the last one's."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("DELETE FROM rounds")
                self.db.execute("INSERT INTO rounds (key, data) VALUES (?, ?)", (key, blob))
        except sqlite3.Error:  # the workbook is written; the next merge reads it back
            pass

    def kept_round(self, workbook: Path) -> PreviousRound | None:
        """The previous round kept for this workbook (`keep_round`), if it is byte for byte the
        one written then (an auditor's edit or another tool's save changes it: read it back)."""
        if self.db is None:
            return None
        try:
            key = round_key(workbook.read_bytes())
            row = self.db.execute("SELECT data FROM rounds WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            number, date, files, problems = pickle.loads(row[0])
            return PreviousRound(number, date, pickle.loads(problems), files, source=workbook)
        except Exception:  # unreadable entry or workbook: read it back (or fail there, as before)
            return None

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()


def round_key(workbook: bytes) -> str:
    """What a kept round is found by: the workbook's bytes, and the version that wrote it down."""
    return f"{__version__}.{FORMAT}|{hashlib.sha256(workbook).hexdigest()}"


def _seal(data: bytes, size: int, zcrc: int) -> int:
    """A stored block's checksum, over the numbers too: a wrong size or CRC would make a broken workbook."""
    return zlib.crc32(data, zlib.crc32(f"{size}:{zcrc}".encode()))


def _seal_linked(data: bytes, links: str, size: int, zcrc: int) -> int:
    """A stored piece's checksum: its block's, over its links (JSON) too."""
    return _seal(data + links.encode("utf-8", "surrogatepass"), size, zcrc)


# how a report is pickled (2: targets packed, checks/base.FileReport): part of every key, so that
# a build that pickles otherwise never loads what this one stored, even at the same version
FORMAT = 2


def settings_key(year: int | None, library: str = "") -> str:
    """Everything a report depends on besides the file: tool version and cache format, year asked,
    reading limits, the common-indicator library (its SHA-256)."""
    limits = "|".join(str(v) for v in astuple(Limits.from_env()))
    return f"{__version__}.{FORMAT}|{year}|{limits}|{library}|"
