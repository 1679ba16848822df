"""The intake's state: one SQLite file (WAL) and the uploaded files, under one data folder.

DATA/
  perfxl.sqlite     entities (catalog rows + link hashes), users, uploads, decisions, notes, audit
  files/<sha256>    every uploaded file, content-addressed (never a client's path or name)
  inbox/            files that still arrive by e-mail: dropped here, taken in like uploads
  export/           the consolidated workbook and its inputs, as the last download built them

Nothing here knows about HTTP; the web layer (perfxl.serve.web) and the CLI call these.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CST = timezone(timedelta(hours=8), "CST")  # Asia/Shanghai: no daylight saving, no tzdata needed
ROLES = {"admin": "管理员", "auditor": "审核员", "viewer": "只读"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, category TEXT NOT NULL, seq TEXT NOT NULL,
  name TEXT NOT NULL, competent TEXT NOT NULL, token_hash TEXT UNIQUE, token_gen INTEGER NOT NULL DEFAULT 0,
  UNIQUE (kind, name));
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, role TEXT NOT NULL, pw_hash TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
  id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL REFERENCES entities(id), n INTEGER NOT NULL,
  sha256 TEXT NOT NULL, filename TEXT NOT NULL, ext TEXT NOT NULL, size INTEGER NOT NULL, at TEXT NOT NULL,
  source TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, errors INTEGER NOT NULL,
  warnings INTEGER NOT NULL, infos INTEGER NOT NULL, findings TEXT NOT NULL, template TEXT NOT NULL,
  same_as INTEGER, submitted_at TEXT, explanation TEXT NOT NULL DEFAULT '', by_ip TEXT NOT NULL DEFAULT '',
  UNIQUE (entity_id, n));
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL, upload_id INTEGER, action TEXT NOT NULL,
  reasons TEXT NOT NULL, note TEXT NOT NULL, by_user TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
  key TEXT PRIMARY KEY, checked TEXT NOT NULL, advice TEXT NOT NULL, disposition TEXT NOT NULL,
  by_user TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, ip TEXT NOT NULL, action TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS login_failures (ip TEXT NOT NULL, name TEXT NOT NULL, at REAL NOT NULL);
"""

RETURN_REASONS = (
    "数据有错误未改正",
    "警告未说明或说明不充分",
    "使用了错误的模板或年度",
    "金额单位疑似填错",
    "其他（见说明）",
)


def now() -> str:
    return datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Entity:
    id: int
    kind: str
    category: str
    seq: str
    name: str
    competent: str
    token_gen: int


class Store:
    """One connection per thread (waitress serves from a thread pool); short transactions."""

    def __init__(self, data: Path, *, setup: bool = True) -> None:
        """`setup`: make sure of the schema and WAL mode (once per process is enough: the web
        app does it at start, and each request then only connects)."""
        self.data = data
        self.db = sqlite3.connect(data / "perfxl.sqlite", timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        if setup:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # ----- settings
    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    @property
    def year(self) -> int:
        return int(self.meta("year", "0") or 0)

    # ----- entities and their links
    def entities(self) -> list[Entity]:
        rows = self.db.execute(
            "SELECT * FROM entities ORDER BY kind = 'project', CAST(seq AS INTEGER), seq, name"
        ).fetchall()
        return [_entity(r) for r in rows]

    def entity(self, entity_id: int) -> Entity | None:
        row = self.db.execute("SELECT * FROM entities WHERE id = ?", (entity_id,)).fetchone()
        return _entity(row) if row else None

    def entity_by_token(self, token: str) -> Entity | None:
        row = self.db.execute("SELECT * FROM entities WHERE token_hash = ?", (token_hash(token),)).fetchone()
        return _entity(row) if row else None

    def find_entity(self, kind: str | None, name: str) -> Entity | None:
        from perfxl.values import normalise

        want = normalise(name)
        for e in self.entities():
            if (kind is None or e.kind == kind) and normalise(e.name) == want:
                return e
        return None

    def issue_link(self, entity_id: int) -> str:
        """A new secret link for an entity (the old one stops working, its sessions too)."""
        token = secrets.token_urlsafe(32)  # 256 random bits; only the hash is kept
        self.db.execute(
            "UPDATE entities SET token_hash = ?, token_gen = token_gen + 1 WHERE id = ?", (token_hash(token), entity_id)
        )
        return token

    # ----- users
    def add_user(self, name: str, role: str, password: str) -> None:
        if role not in ROLES:
            raise ValueError(role)
        self.db.execute(
            "INSERT OR REPLACE INTO users (name, role, pw_hash, created) VALUES (?, ?, ?, ?)",
            (name, role, hash_password(password), now()),
        )

    def user(self, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return row

    def users(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT id, name, role, created FROM users ORDER BY id").fetchall()

    def login_blocked(self, ip: str, name: str, window: float = 900, limit: int = 5) -> bool:
        since = time.time() - window
        n = self.db.execute(
            "SELECT count(*) FROM login_failures WHERE at > ? AND (ip = ? OR name = ?)", (since, ip, name)
        ).fetchone()[0]
        return int(n) >= limit

    def login_failed(self, ip: str, name: str) -> None:
        self.db.execute("INSERT INTO login_failures (ip, name, at) VALUES (?, ?, ?)", (ip, name, time.time()))

    # ----- uploads
    def uploads(self, entity_id: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM uploads WHERE entity_id = ? ORDER BY n DESC", (entity_id,)).fetchall()

    def upload(self, entity_id: int, n: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM uploads WHERE entity_id = ? AND n = ?", (entity_id, n)
        ).fetchone()
        return row

    def latest_submitted(self) -> dict[int, sqlite3.Row]:
        """Each entity's newest upload sent for review (提交审核)."""
        rows = self.db.execute("SELECT * FROM uploads WHERE submitted_at IS NOT NULL ORDER BY entity_id, n").fetchall()
        return {int(r["entity_id"]): r for r in rows}

    def decisions(self, entity_id: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM decisions WHERE entity_id = ? ORDER BY id DESC", (entity_id,)).fetchall()

    # ----- notes (the same keys as the consolidated workbook's 问题编号)
    def notes(self) -> dict[str, sqlite3.Row]:
        return {str(r["key"]): r for r in self.db.execute("SELECT * FROM notes").fetchall()}

    def set_note(self, key: str, checked: str, advice: str, disposition: str, who: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO notes (key, checked, advice, disposition, by_user, at) VALUES (?, ?, ?, ?, ?, ?)",
            (key, checked, advice, disposition, who, now()),
        )

    # ----- audit
    def log(self, who: str, ip: str, action: str, detail: str = "") -> None:
        self.db.execute(
            "INSERT INTO audit (at, who, ip, action, detail) VALUES (?, ?, ?, ?, ?)", (now(), who, ip, action, detail)
        )

    def audit(self, limit: int = 500) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def _entity(r: sqlite3.Row) -> Entity:
    return Entity(r["id"], r["kind"], r["category"], r["seq"], r["name"], r["competent"], r["token_gen"])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def findings_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, default=str)
