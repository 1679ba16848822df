"""The catalog (目录): who is expected to file which form.

Columns 类别, 序号, 名称, 主管部门 (header aliases accepted), as .csv (UTF-8,
UTF-8 with BOM, or GBK as saved by Excel on Chinese Windows) or .xlsx (first
sheet). A blank 类别 repeats the one above, as in the published 目录.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from perfxl.errors import CatalogError

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "category": ("类别", "表单类别", "kind"),
    "seq": ("序号", "seq"),
    "name": ("名称", "预算部门及项目名称", "部门或项目名称", "name"),
    "competent": ("主管部门", "competent"),
}
KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("部门", "dept"),
    ("dept", "dept"),
    ("项目", "project"),
    ("project", "project"),
)


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    """One row of the bureau's catalog: who is expected to submit which form."""

    kind: str  # dept | project
    category: str  # as written in the catalog
    seq: str
    name: str
    competent: str
    line: int  # 1-based line/row in the source, for messages


def _decode(raw: bytes, path: Path) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise CatalogError(f"目录文件 {path} 的编码无法识别（请另存为 UTF-8 或 GBK 编码的 CSV）")


def _rows(path: Path) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"无法读取目录文件 {path}：{exc.strerror or exc}") from exc
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for bad files
            raise CatalogError(f"目录文件 {path} 不是有效的 xlsx 工作簿：{exc}") from exc
        ws = wb.worksheets[0]
        out = [["" if v is None else str(v).strip() for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return out
    text = _decode(raw, path)
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), dialect)]


def read_catalog(path: Path) -> list[CatalogEntry]:
    """Read a catalog (.csv in UTF-8, UTF-8 with BOM or GBK, or .xlsx); CatalogError when unusable."""
    rows = [r for r in _rows(path) if any(r)]
    if not rows:
        raise CatalogError(f"目录文件 {path} 是空的")
    header = rows[0]
    index: dict[str, int] = {}
    for key, names in HEADER_ALIASES.items():
        for i, h in enumerate(header):
            if h in names:
                index[key] = i
                break
    missing = [HEADER_ALIASES[k][0] for k in ("category", "seq", "name") if k not in index]
    if missing:
        raise CatalogError(f"目录文件 {path} 缺少列：{'、'.join(missing)}（表头应为：类别,序号,名称,主管部门）")

    def get(row: list[str], key: str) -> str:
        i = index.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    entries: list[CatalogEntry] = []
    problems: list[str] = []
    category = ""
    for line, row in enumerate(rows[1:], start=2):
        category = get(row, "category") or category
        name = get(row, "name")
        kind = next((k for word, k in KIND_WORDS if word in category), "")
        if not kind:
            problems.append(f"第 {line} 行：类别“{category}”无法识别（应含“部门”或“项目”）")
            continue
        if not name:
            problems.append(f"第 {line} 行：名称为空")
            continue
        competent = get(row, "competent") or (name if kind == "dept" else "")
        if not competent:
            problems.append(f"第 {line} 行：项目“{name}”缺少主管部门")
            continue
        entries.append(
            CatalogEntry(kind=kind, category=category, seq=get(row, "seq"), name=name, competent=competent, line=line)
        )
    seen: dict[tuple[str, str, str], int] = {}
    for e in entries:
        ident = (e.kind, e.competent, e.name)
        if ident in seen:
            problems.append(f"第 {e.line} 行：与第 {seen[ident]} 行重复（{e.name}）")
        seen[ident] = e.line
    if problems:
        raise CatalogError(f"目录文件 {path} 有误：\n" + "\n".join(problems))
    return entries
