"""The district's common indicators (共性指标): data the bureau edits, not code.

Every department form of the 2024 seed opens its 年度绩效指标 with the same 16 投入管理指标 rows
and standard targets; the library lists them (级次, 一级/二级/三级, 符号, 数值, 单位, which form
types, required, editable). The default ships with the package (perfxl/data/共性指标_2024.csv,
taken from the seed); `--indicators FILE` (.csv, same columns) replaces it. The checks report a
missing common indicator and a target that departs from the standard; merge compares every
department's targets side by side (共性指标对照).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from perfxl.errors import PerfxlError
from perfxl.values import Target, normalise, parse_target
from perfxl.vocab import QUALITATIVE

DEFAULT = Path(__file__).resolve().parent / "data" / "共性指标_2024.csv"
_KINDS = {"部门整体": "dept", "部门": "dept", "项目支出": "project", "项目": "project"}
_QUOTES = re.compile(r"[\s\"'“”‘’「」『』]")


class LibraryError(PerfxlError):
    """An indicator library that cannot be used (missing columns, unknown form type)."""


@dataclass(frozen=True)
class Common:
    """One common indicator and its standard target."""

    tier: str  # 级次: 区级, 市级 …
    level1: str
    level2: str
    level3: str
    op: str  # ≥ ＞ ＝ ＜ ≤ or 定性
    value: str  # as written in the library
    unit: str
    kinds: frozenset[str]
    required: bool
    editable: bool

    @property
    def standard(self) -> Target:
        return parse_target(f"{self.value}" if self.op == QUALITATIVE else f"{self.op}{self.value}{self.unit}")

    @property
    def shown(self) -> str:
        return self.value if self.op == QUALITATIVE else f"{self.op}{self.value}{self.unit}"


@dataclass(frozen=True)
class Library:
    rows: tuple[Common, ...]
    name: str  # the file's name, for messages and _meta
    sha256: str

    def for_kind(self, kind: str) -> list[Common]:
        return [c for c in self.rows if kind in c.kinds]


def name_key(text: object) -> str:
    """An indicator name as compared: full width folded, quotes and spaces dropped
    (“三公经费”变动率 = "三公经费"变动率 = 三公经费变动率)."""
    return _QUOTES.sub("", normalise(str(text or "")))


def by_name(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Indicator rows by normalised 三级指标 name; a name typed twice: the first row counts."""
    where: dict[str, int] = {}
    for i, row in enumerate(rows):
        where.setdefault(name_key(row.get("level3")), i)
    return where


def load_library(path: Path | None = None) -> Library:
    """The library at `path` (default: the packaged 2024 one); LibraryError when unusable."""
    path = Path(path) if path else DEFAULT
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"共性指标库 {path} 无法读取：{exc.strerror}") from exc
    return _parse(raw, path.name)


@lru_cache(maxsize=8)
def _parse(raw: bytes, name: str) -> Library:
    import csv
    import io

    text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" or _utf8(raw) else raw.decode("gbk", "replace")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise LibraryError(f"共性指标库 {name} 是空的")
    head = [h.strip() for h in rows[0]]
    need = ("一级指标", "二级指标", "三级指标", "符号", "数值", "单位", "适用表类型")
    missing = [h for h in need if h not in head]
    if missing:
        raise LibraryError(f"共性指标库 {name} 缺少列：{'、'.join(missing)}")
    out = []
    for line, r in enumerate(rows[1:], start=2):
        get: dict[str, Any] = {h: (r[i].strip() if i < len(r) else "") for i, h in enumerate(head)}
        kinds = frozenset(_KINDS.get(k.strip(), "") for k in re.split(r"[、,，/ ]+", get["适用表类型"]) if k.strip())
        if not kinds or "" in kinds:
            raise LibraryError(
                f"共性指标库 {name} 第 {line} 行：适用表类型“{get['适用表类型']}”应为 部门整体 或 项目支出"
            )
        op = normalise(get["符号"])
        out.append(
            Common(
                tier=get.get("级次") or "区级",
                level1=get["一级指标"],
                level2=get["二级指标"],
                level3=get["三级指标"],
                op=op,
                value=get["数值"],
                unit=normalise(get["单位"]),
                kinds=kinds,
                required=get.get("必填", "是") != "否",
                editable=get.get("可改", "否") == "是",
            )
        )
    return Library(tuple(out), name, hashlib.sha256(raw).hexdigest())


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def deviates(target: Target, common: Common) -> bool:
    """A target that says something else than the standard. A missing sign is not a deviation
    (value.no_operator reports it); another sign, number, unit or word is."""
    std = common.standard
    if common.op == QUALITATIVE:
        return normalise(target.text) != normalise(std.text)
    if target.number is None:
        return False  # not a number at all: reported on its cell already
    if target.op is not None and target.op != std.op:
        return True
    return target.number != std.number or target.unit != std.unit
