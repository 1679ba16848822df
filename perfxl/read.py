"""Filled workbook → form data + where every value came from. Reads; never judges.

Fast path: python-calamine for cell values (about 200× faster than openpyxl's
default mode on these forms) plus a zip-level scan of workbook.xml (through
defusedxml) for sheets, defined names and protection. Cached formula results
are never used: totals are recomputed from inputs by the rules.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import math
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as StdET

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from perfxl.bound import MAX_COLS, bound_sheet, needs_bounding
from perfxl.data import FormData, Value
from perfxl.errors import os_reason
from perfxl.forms import KINDS, get_spec
from perfxl.forms.model import NUMERIC_TYPES, FormSpec
from perfxl.layout import Layout, build_layout
from perfxl.limits import MB, Limits
from perfxl.package import DEFAULT_YEAR, INSTRUCTIONS_SHEET, LISTS_SHEET, META_SHEET, Meta, column_name, field_name

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?$")
# a formula is the first child of its <c>: the tag before "<f" (whitespace apart) opens the
# cell. Formulas are few, so find each <f and look back for its cell rather than try every <c.
# Any prefix, attribute order, quoting and whitespace: some tools pretty-print their XML.
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_FORMULA_TAG_PLAIN = re.compile(rb"<f[\s>/]")
_CELL_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*>")
_USUAL_CELL_OPEN = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>/]*>')
_CELL_REF = re.compile(rb"""\sr\s*=\s*["']([A-Z]{1,3}[0-9]{1,7})["']""")
_PROTECTION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheetProtection\b([^>]*)>")
_PROTECTED = re.compile(rb"""\bsheet\s*=\s*["'](?:1|true)["']""")
# the declarations Excel, WPS, LibreOffice and XlsxWriter write (optionally after a UTF-8 BOM)
_UTF8_DECL = re.compile(
    rb'(?:\xef\xbb\xbf)?<\?xml version="1\.0" encoding="(?i:utf-8)"'
    rb'(?: standalone="(?:yes|no)")?\?>'
)


class HostileXml(Exception):
    """An XML part declares a DTD or entities."""


def formula_cells(xml: bytes) -> set[str]:
    out: set[str] = set()
    # without any prefixed tag (what every spreadsheet program writes) a literal <f will do
    tags = _FORMULA_TAG if b":f" in xml else _FORMULA_TAG_PLAIN
    for m in tags.finditer(xml):
        start = xml.rfind(b"<c ", 0, m.start())  # what every spreadsheet program writes
        cell = _USUAL_CELL_OPEN.match(xml, start) if start >= 0 else None
        if cell and cell.end() == m.start():
            out.add(cell.group(1).decode())
            continue
        end = xml.rfind(b">", 0, m.start()) + 1
        if end <= 0 or xml[end : m.start()].strip():
            continue
        start = xml.rfind(b"<", 0, end)
        cell = _CELL_OPEN.fullmatch(xml, start, end) if start >= 0 else None
        if cell and not cell.group(0).endswith(b"/>"):
            ref = _CELL_REF.search(cell.group(0))
            if ref:
                out.add(ref.group(1).decode())
    return out


@dataclass(frozen=True, slots=True)
class Loc:
    sheet: str
    cell: str

    def __reduce__(self) -> tuple[type[Loc], tuple[str, str]]:
        # a cached report holds tens of these; the dataclass default unpickles 3× slower
        return Loc, (self.sheet, self.cell)


@dataclass(frozen=True, kw_only=True)
class ReadNote:
    """Something the reader saw and the checker must report: a finding id, where, and what
    (the reader does not judge severity beyond what the id implies)."""

    code: str  # finding id, e.g. file.limit
    message: str
    sheet: str = ""
    cell: str = ""
    actual: str | None = None


@dataclass(kw_only=True)
class WorkbookScan:
    """Structure, from the zip alone."""

    sheets: list[tuple[str, str, str]]  # (name, state, part path)
    names: dict[str, str]  # defined name → formula text
    structure_locked: bool
    sheet_protected: dict[str, bool]
    formula_cells: dict[str, set[str]]  # sheet → cells holding a formula
    modified: str = ""  # docProps/core.xml dcterms:modified, as written by the last saver


@dataclass(kw_only=True)
class Submission:
    path: Path
    sha256: str
    kind: str | None = None
    meta: Meta = field(default_factory=Meta)
    data: FormData | None = None
    fields: dict[str, Loc] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)  # data row → template row (0-based)
    columns: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    scan: WorkbookScan | None = None
    values: dict[str, dict[tuple[int, int], Value]] = field(default_factory=dict)
    problem: str = ""  # why the file could not be read as a form (Chinese, for the finding's message)
    problem_code: str = "file.unreadable"  # the finding id of `problem`: unreadable, or readable but not ours
    used_fallback: list[str] = field(default_factory=list)  # names located by layout
    has_macros: bool = False
    notes: list[ReadNote] = field(default_factory=list)  # other observations, for findings
    dates: set[tuple[str, tuple[int, int]]] = field(default_factory=set)  # (sheet, cell) read as dates
    unread_rows: dict[str, int] = field(default_factory=dict)  # sheet → rows with content past the row limit
    merged: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)  # sheet → r0,c0,r1,c1
    format: str = "xlsx"  # xlsx (also .xlsm), or xls / ods: re-saves read through calamine

    @property
    def year(self) -> int | None:
        """The budget year the template was issued for (from its metadata)."""
        return self.meta.year_number

    def slim(self) -> None:
        """Drop what only checking needed (every cell, structure scan): a county merge holds
        thousands of submissions at once."""
        self.values = {}
        self.merged = {}
        if self.scan is not None:
            self.scan = WorkbookScan(
                sheets=[],
                names={},
                structure_locked=self.scan.structure_locked,
                sheet_protected={},
                formula_cells={},
                modified=self.scan.modified,
            )

    def cell(self, table: str, row: int, column: str) -> Loc:
        """Where a table value sits: data row index → sheet cell."""
        sheet, first_row, col = self.columns[(table, column)]
        return Loc(sheet, xl_rowcol_to_cell(first_row + self.rows[table][row], col))


def _xml(name: str, data: bytes) -> Any:
    """Parse an XML part. A byte search for DTDs is conclusive for UTF-8, which is what Excel,
    WPS and LibreOffice write, so such parts, once searched, go to the stdlib parser; anything
    else takes the slower defusedxml path."""
    if _UTF8_DECL.match(data):
        problem = doctype_problem(name, data)  # also done for every part on reading: cheap, and kept local
        if problem:
            raise HostileXml(problem)
        return StdET.fromstring(data)
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise HostileXml(_dtd_refused(name)) from exc


STRICT = {
    "m": "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "r": "http://purl.oclc.org/ooxml/officeDocument/relationships",
    "rel": NS["rel"],
}


def _namespaces(root: Any) -> dict[str, str]:
    """Transitional (what Excel, WPS and LibreOffice write by default) or Strict OOXML (Excel's
    另存为 “Strict Open XML 电子表格”): the same parts under other namespace names."""
    return STRICT if str(root.tag).startswith(f"{{{STRICT['m']}}}") else NS


def scan_zip(parts: Mapping[str, bytes]) -> WorkbookScan:
    """Structure from the package's XML parts (name → bytes, each decompressed once)."""
    root = _xml("xl/workbook.xml", parts["xl/workbook.xml"])
    ns = _namespaces(root)
    rels_root = _xml("xl/_rels/workbook.xml.rels", parts["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target", "") for r in rels_root.findall("rel:Relationship", ns)}
    sheets = []
    for s in root.findall("m:sheets/m:sheet", ns):
        target = targets.get(s.get(f"{{{ns['r']}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        sheets.append((s.get("name", ""), s.get("state", "visible"), part))
    names = {
        d.get("name", ""): (d.text or "")
        for d in root.findall("m:definedNames/m:definedName", ns)
        if d.get("localSheetId") is None
    }
    prot = root.find("m:workbookProtection", ns)
    locked = prot is not None and prot.get("lockStructure") in ("1", "true")
    protected: dict[str, bool] = {}
    formulas: dict[str, set[str]] = {}
    for name, _state, part in sheets:
        xml = parts.get(part)
        if xml is None:
            protected[name] = False
            formulas[name] = set()
            continue
        m = _PROTECTION.search(xml)
        protected[name] = bool(m and _PROTECTED.search(m.group(1)))
        formulas[name] = formula_cells(xml)
    modified = ""
    if "docProps/core.xml" in parts:
        core = _xml("docProps/core.xml", parts["docProps/core.xml"])
        node = core.find("{http://purl.org/dc/terms/}modified")
        modified = (node.text or "").strip() if node is not None else ""
    return WorkbookScan(
        sheets=sheets,
        names=names,
        structure_locked=locked,
        sheet_protected=protected,
        formula_cells=formulas,
        modified=modified,
    )


@lru_cache(maxsize=4096)
def parse_ref(text: str) -> tuple[str, int, int, int, int] | None:
    """'Sheet'!$B$3:$B$9 → (sheet, row0, col0, row1, col1), 0-based. Cached: every copy of a
    template carries the same defined names."""
    m = _REF.match(text.strip().lstrip("="))
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    r0, c0 = xl_cell_to_rowcol(f"{m.group(3)}{m.group(4)}")
    if m.group(5):
        r1, c1 = xl_cell_to_rowcol(f"{m.group(5)}{m.group(6)}")
    else:
        r1, c1 = r0, c0
    return sheet, r0, c0, r1, c1


EXCEL_MAX = 9.99999999999999e307  # the largest number a spreadsheet cell can hold


def _cell_value(v: Any) -> Value:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, (int, float)):
        return float(v) if isinstance(v, float) and not v.is_integer() else (int(v) if float(v).is_integer() else v)
    return str(v)


def _invalid_number(v: Any) -> bool:
    """NaN, ±infinity and numbers beyond Excel's range: no program writes them, and they would
    make every sum and the consolidated workbook unusable."""
    return type(v) is float and not (-EXCEL_MAX <= v <= EXCEL_MAX)


def _date_text(v: date | time | timedelta) -> str:
    if isinstance(v, datetime) and v.time() == time(0):
        return v.date().isoformat()
    return v.isoformat() if isinstance(v, (date, time)) else str(v)


def _shown_invalid(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    return ("负" if v < 0 else "") + ("无穷大" if math.isinf(v) else f"{abs(v):.3g}")


def _sheet_values(
    book: CalamineWorkbook, name: str, sub: Submission | None = None, limits: Limits | None = None
) -> dict[tuple[int, int], Value]:
    limits = limits or Limits()
    sheet = book.get_sheet_by_name(name)
    r0, c0 = sheet.start or (0, 0)
    out: dict[tuple[int, int], Value] = {}
    if sub is not None:
        sub.merged[name] = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
    max_rows, max_chars, intern = limits.max_rows, limits.max_cell_chars, sys.intern
    rows = sheet.iter_rows()
    for r, row in enumerate(rows, start=r0):
        if r >= max_rows:
            if sub is not None:
                more = sum(1 for rest in itertools.chain([row], rows) if any(v != "" and v is not None for v in rest))
                sub.unread_rows[name] = sub.unread_rows.get(name, 0) + more
                sub.notes.append(
                    ReadNote(
                        code="file.limit",
                        sheet=name,
                        cell=xl_rowcol_to_cell(r, c0),
                        message=f"工作表“{name}”超过 {max_rows} 行的上限，其后还有 {more} 行内容未读取",
                    )
                )
            break
        for c, v in enumerate(row, start=c0):
            if type(v) is str:  # most cells: text, or "" for an empty one
                if not v:
                    continue
                if len(v) > max_chars:
                    if sub is not None:
                        sub.notes.append(
                            ReadNote(
                                code="file.limit",
                                sheet=name,
                                cell=xl_rowcol_to_cell(r, c),
                                message=f"单元格有 {len(v)} 个字符，超过 {max_chars}，已截断"
                                f"（只读取前 {max_chars} 个字符）",
                            )
                        )
                    v = v[:max_chars]
                if len(v) <= 24:
                    v = intern(v)  # labels and choices repeat across thousands of forms
                out[(r, c)] = v
            elif v is not None:
                if isinstance(v, (date, time, timedelta)):  # the program took what was typed for a date
                    if sub is not None:
                        sub.dates.add((name, (r, c)))
                    out[(r, c)] = _date_text(v)
                    continue
                if _invalid_number(v):
                    if sub is not None:
                        shown = _shown_invalid(float(v))
                        text = f"单元格中的数值无效（{shown}），已按空白读取，请重新填写"
                        sub.notes.append(
                            ReadNote(
                                code="value.invalid_number",
                                sheet=name,
                                cell=xl_rowcol_to_cell(r, c),
                                actual=shown,
                                message=text,
                            )
                        )
                    continue
                value = _cell_value(v)
                if value is not None:
                    out[(r, c)] = value
    return out


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _precheck(raw: bytes, z: zipfile.ZipFile | None, limits: Limits) -> str:
    """Reasons to refuse a file before any parser touches it ("" when fine)."""
    if z is None:
        if not raw:
            return "空文件（0 字节）"
        return "不是 xlsx 文件（内容不是 Excel 工作簿）"
    problem = _precheck_sizes(z, limits)
    if problem:
        return problem
    infos = z.infolist()
    names = {i.filename for i in infos}
    if len(names) != len(infos):
        twice = sorted({i.filename for i in infos if sum(j.filename == i.filename for j in infos) > 1})
        return f"文件中有名称重复的部件（{'、'.join(twice[:3])}），不符合 xlsx 格式，已拒绝（可能是恶意文件）"
    if "xl/workbook.bin" in names:
        return "这是 Excel 二进制工作簿（.xlsb），请另存为 .xlsx 后重新提交"
    for needed in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if needed not in names:
            return f"不是 Excel 工作簿（缺少 {needed}）"
    return ""


def _precheck_sizes(z: zipfile.ZipFile, limits: Limits) -> str:
    """Zip bombs and oversized parts, for every zip-based format."""
    infos = z.infolist()
    total = sum(i.file_size for i in infos)
    if total > limits.max_inflated_bytes:
        return f"解压后超过 {limits.max_inflated_bytes // MB} MB，已拒绝（可能是压缩炸弹）"
    for i in infos:
        if i.file_size > MB and i.compress_size and i.file_size / i.compress_size > limits.max_ratio:
            return f"压缩比异常（{i.filename}），已拒绝（可能是压缩炸弹）"
        if i.file_size > limits.max_part_bytes:
            return (
                f"文件中的 {i.filename} 解压后有 {i.file_size // MB} MB，超过 {limits.max_part_bytes // MB} MB，"
                "已拒绝（正常填报表不足 1 MB）"
            )
    return ""


_PART_KINDS = (  # (folder prefix, finding id, what it is): never executed, never fetched
    ("xl/embeddings/", "file.embedded_object", "嵌入的对象（OLE 对象或其他文件）"),
    ("xl/activex/", "file.embedded_object", "ActiveX 控件"),
    ("xl/externallinks/", "file.external_link", "指向其他工作簿的外部链接"),
)


def package_notes(infos: list[zipfile.ZipInfo]) -> list[ReadNote]:
    """What the package holds beyond a form: reported, never opened."""
    notes: list[ReadNote] = []
    odd = [
        i.filename
        for i in infos
        if ".." in i.filename.split("/")
        or i.filename.startswith("/")
        or "\\" in i.filename
        or re.match(r"^[A-Za-z]:", i.filename)
    ]
    if odd:
        notes.append(
            ReadNote(
                code="file.suspicious_part",
                actual=odd[0],
                message=f"文件中有路径异常的部件（{odd[0]}{' 等' if len(odd) > 1 else ''}），"
                "已忽略；正常保存的工作簿不会出现，请用下发的模板重新填报",
            )
        )
    for prefix, code, what in _PART_KINDS:
        found = [i.filename for i in infos if i.filename.lower().startswith(prefix)]
        if found:
            notes.append(
                ReadNote(
                    code=code,
                    actual=found[0],
                    message=f"文件含有{what}（{len(found)} 个，如 {found[0]}）：不会被打开或执行，请删除后重新提交",
                )
            )
    return notes


def read_member(raw: bytes, info: zipfile.ZipInfo, z: zipfile.ZipFile) -> bytes:
    """`z.read(info)` for the package already in memory, without zipfile's per-member file
    machinery (a form has a dozen small parts; that overhead was a tenth of reading it).
    Output is bounded by the declared size and checked against the CRC; anything unusual
    (encryption, other compression methods) goes through zipfile itself."""
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return z.read(info)
    h = info.header_offset
    if raw[h : h + 4] != b"PK\x03\x04" or len(raw) < h + 30:
        raise zipfile.BadZipFile(f"bad local header: {info.filename}")
    (flags,) = struct.unpack_from("<H", raw, h + 6)
    if flags & 0x60:  # patch data or strong encryption: zipfile refuses these its own way
        return z.read(info)
    name_len, extra_len = struct.unpack_from("<HH", raw, h + 26)
    name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    if raw[h + 30 : h + 30 + name_len] != name:
        raise zipfile.BadZipFile(f"local and central names differ: {info.filename}")
    start = h + 30 + name_len + extra_len
    data = raw[start : start + info.compress_size]
    if len(data) != info.compress_size:
        raise zipfile.BadZipFile(f"truncated: {info.filename}")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(data, info.file_size)
        if inflater.unconsumed_tail:
            raise zipfile.BadZipFile(f"longer than declared: {info.filename}")
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC or size: {info.filename}")
    return data


def _xml_parts(raw: bytes, z: zipfile.ZipFile) -> tuple[str, dict[str, bytes]]:
    """Every XML part, decompressed once (sizes were bounded by `_precheck`), and the reason
    to refuse the file if any declares a DTD."""
    parts = {i.filename: read_member(raw, i, z) for i in z.infolist() if i.filename.endswith((".xml", ".rels", ".vml"))}
    for name, data in parts.items():
        problem = doctype_problem(name, data)
        if problem:
            return problem, {}
    return "", parts


def doctype_problem(name: str, data: bytes) -> str:
    """XML parts with DTDs are refused outright: no parser ever sees an entity declaration.
    The whole part is searched (a long comment can push a DTD past any fixed prefix)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return _dtd_refused(name)
    return ""


def _dtd_refused(name: str) -> str:
    return f"文件中的 XML（{name}）含有 DOCTYPE/实体声明，已拒绝（可能是恶意文件）"


def read_submission(path: Path, data: bytes | None = None, limits: Limits | None = None) -> Submission:
    """Read one file. Unreadable, oversized, hostile or foreign files come back with `problem` set."""
    limits = limits or Limits.from_env()
    if data is None and path.stat().st_size > limits.max_file_bytes:
        sub = Submission(path=path, sha256="")
        sub.problem = f"文件大小超过 {limits.max_file_bytes // MB} MB，已拒绝（正常填报文件不足 1 MB）"
        return sub
    raw = data if data is not None else path.read_bytes()
    sub = Submission(path=path, sha256=hashlib.sha256(raw).hexdigest())
    if raw.startswith(OLE_MAGIC):
        return _read_other(sub, raw, "xls", {}, limits)
    try:
        z = zipfile.ZipFile(io.BytesIO(raw)) if raw.startswith(b"PK") else None
        if z is not None and _is_ods(raw, z):
            sub.problem = _precheck_sizes(z, limits)
            if not sub.problem:
                sub.problem, parts = _xml_parts(raw, z)
            return sub if sub.problem else _read_other(sub, raw, "ods", parts, limits)
        sub.problem = _precheck(raw, z, limits)
        if not sub.problem and z is not None:
            sub.problem, parts = _xml_parts(raw, z)
    except Exception:  # BadZipFile, zlib.error, EOFError...: all "the package is broken"
        sub.problem = "文件不完整或已损坏（压缩包无法打开），请重新保存后提交"
        return sub
    if sub.problem or z is None:
        return sub
    try:
        sub.scan = scan_zip(parts)
        sub.has_macros = any(n.lower().endswith("vbaproject.bin") for n in z.namelist())
        sub.notes += package_notes(z.infolist())
        raw = _bounded(raw, z, parts, sub, limits)
        z.close()
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except HostileXml as exc:
        sub.scan = None
        sub.problem = str(exc)
        return sub
    except Exception as exc:  # zipfile, XML and calamine errors all mean "cannot open"
        sub.problem = f"文件已损坏，无法作为 xlsx 工作簿打开（{_error_kind(exc)}）"
        return sub
    return _read_cells(sub, book, parts, limits)


def _is_ods(raw: bytes, z: zipfile.ZipFile) -> bool:
    """An OpenDocument spreadsheet: its first member is the uncompressed mimetype."""
    return raw[30:38] == b"mimetype" and b"opendocument.spreadsheet" in raw[38:120] and "content.xml" in z.namelist()


_ODS_TABLE = re.compile(rb"<table:table\s([^>]*)>")
_ODS_NAME = re.compile(rb'table:name="([^"]*)"')


def _ods_protection(content: bytes) -> dict[str, bool]:
    """Sheet → protected, from content.xml's table:table tags."""
    out: dict[str, bool] = {}
    for m in _ODS_TABLE.finditer(content):
        name = _ODS_NAME.search(m.group(1))
        if name:
            out[html.unescape(name.group(1).decode("utf-8", "replace"))] = b'table:protected="true"' in m.group(1)
    return out


def _read_other(sub: Submission, raw: bytes, fmt: str, parts: dict[str, bytes], limits: Limits) -> Submission:
    """.xls (BIFF8) and .ods re-saves of our templates: the same cells, read by calamine. What
    these formats do not let us see (defined names, formulas; for .xls also protection) is
    taken from the layout or left unchecked, and the checker says so once."""
    sub.format = fmt
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        meta = book.sheets_metadata
    except Exception:
        if fmt == "xls":
            sub.problem = "这是加密（设了打开密码）的工作簿或无法打开的 .xls 文件：请取消密码并另存为 .xlsx 后重新提交"
        else:
            sub.problem = "文件已损坏，无法作为 .ods 工作簿打开，请重新保存后提交"
        return sub
    protected = _ods_protection(parts.get("content.xml", b"")) if fmt == "ods" else {}
    sheets = [(m.name, "visible" if str(m.visible).endswith("Visible") else "hidden", "") for m in meta]
    sub.scan = WorkbookScan(
        sheets=sheets,
        names={},
        structure_locked=True,
        sheet_protected={n: protected.get(n, fmt == "xls") for n, _s, _p in sheets},
        formula_cells={},
        modified="",
    )
    return _read_cells(sub, book, parts, limits)


def _read_cells(sub: Submission, book: CalamineWorkbook, parts: dict[str, bytes], limits: Limits) -> Submission:
    assert sub.scan is not None
    names = [s[0] for s in sub.scan.sheets]
    if META_SHEET not in names:
        sub.problem_code = "file.not_template"
        sub.problem = "不是 perfxl 下发的模板（缺少隐藏的元数据表），请使用财政部门下发的模板填报"
        return sub
    try:
        meta_values = _sheet_values(book, META_SHEET, None, limits)
    except Exception as exc:
        sub.problem_code = "file.not_template"
        sub.problem = f"元数据表无法读取（{_error_kind(exc)}）"
        return sub
    keys = {r: v for (r, c), v in meta_values.items() if c == 0}
    sub.meta = Meta.from_rows((str(k), str(meta_values.get((r, 1)) or "")) for r, k in keys.items())
    kind = sub.meta.form_kind
    if kind not in KINDS:
        sub.problem_code = "file.not_template"
        sub.problem = f"元数据中的表单类型“{kind}”无法识别"
        return sub
    sub.kind = kind
    spec = get_spec(kind)
    layout = build_layout(spec, sub.year or DEFAULT_YEAR)
    for sheet_name in names:
        if sheet_name in (META_SHEET, LISTS_SHEET, INSTRUCTIONS_SHEET):
            continue  # nothing to read there; their integrity is the fingerprint's job
        try:
            sub.values[sheet_name] = _sheet_values(book, sheet_name, sub, limits)
        except Exception as exc:
            sub.values[sheet_name] = {}
            text = f"工作表“{sheet_name}”无法读取（{_error_kind(exc)}），其内容按空白处理"
            sub.notes.append(ReadNote(code="file.limit", sheet=sheet_name, message=text))
    _locate(sub, spec, layout)
    _interpret_formats(sub, spec, parts)
    sub.data = _extract(sub, spec)
    return sub


def _bounded(raw: bytes, z: zipfile.ZipFile, parts: dict[str, bytes], sub: Submission, limits: Limits) -> bytes:
    """The package as the cell reader may see it: sheets with far or unreferenced cells are
    rewritten to the bounded area (see bound.py), what was left out becomes a note."""
    assert sub.scan is not None
    replaced: dict[str, bytes] = {}
    for name, _state, part in sub.scan.sheets:
        if name in (LISTS_SHEET, INSTRUCTIONS_SHEET):
            continue  # never handed to the cell reader (see _read_cells)
        xml = parts.get(part)
        if xml is None or not needs_bounding(xml):
            continue
        bounded, outside = bound_sheet(xml, limits.max_rows)
        replaced[part] = bounded
        if outside is not None:
            sub.unread_rows[name] = outside.rows_past_limit
            sub.notes.append(
                ReadNote(
                    code="file.outside_area",
                    sheet=name,
                    cell=outside.farthest,
                    message=f"工作表“{name}”在可读取范围（前 {limits.max_rows} 行、前 {MAX_COLS} 列）"
                    f"之外还有 {outside.cells} 个单元格有内容（{outside.rows} 行，最远到 "
                    f"{outside.farthest}），未读取",
                )
            )
    if not replaced:
        return raw
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in z.infolist():
            body = replaced.get(info.filename)
            if body is None:
                body = parts[info.filename] if info.filename in parts else read_member(raw, info, z)
            dst.writestr(info.filename, body)
    return out.getvalue()


# Number formats that change what a stored number means to the person who typed it: typing
# 95% stores 0.95 with a percent format (Excel, WPS and LibreOffice alike). Built-in ids 9 and
# 10 are 0% and 0.00%; custom codes count when a % stands outside quotes, brackets and escapes.
_PERCENT_IDS = frozenset({"9", "10"})
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_STYLE_INDEX = re.compile(rb"""\ss\s*=\s*["'](\d+)["']""")


def percent_styles(styles: bytes | None) -> frozenset[int]:
    """Indexes of the cell formats (cellXfs) that show numbers as percentages."""
    if not styles or (b"%" not in styles and b'numFmtId="9"' not in styles and b'numFmtId="10"' not in styles):
        return frozenset()  # the templates' own styles: nothing to look up
    root = _xml("xl/styles.xml", styles)
    main = _namespaces(root)["m"]
    percent_ids = set(_PERCENT_IDS)
    for fmt in root.iter(f"{{{main}}}numFmt"):
        if "%" in _FORMAT_LITERALS.sub("", fmt.get("formatCode", "")):
            percent_ids.add(fmt.get("numFmtId", ""))
    xfs = root.find(f"{{{main}}}cellXfs")
    if xfs is None:
        return frozenset()
    return frozenset(i for i, xf in enumerate(xfs.findall(f"{{{main}}}xf")) if xf.get("numFmtId") in percent_ids)


def styled_cells(xml: bytes, styles: frozenset[int]) -> set[tuple[int, int]]:
    """Cells of a sheet whose format is one of `styles` (0-based row, column)."""
    out: set[tuple[int, int]] = set()
    for m in _CELL_OPEN.finditer(xml):
        tag = m.group(0)
        s = _STYLE_INDEX.search(tag)
        ref = _CELL_REF.search(tag) if s and int(s.group(1)) in styles else None
        if ref:
            out.add(xl_cell_to_rowcol(ref.group(1).decode()))
    return out


def _numeric_cells(sub: Submission, spec: FormSpec) -> list[tuple[Loc, str]]:
    """Every cell meant to hold a number (amounts, head counts, indicator 数值), with its label."""
    out: list[tuple[Loc, str]] = [(sub.fields[f.id], f.label) for f in spec.fields if f.type in NUMERIC_TYPES]
    for t in spec.tables:
        for col in t.columns:
            sheet, first, c = sub.columns[(t.id, col.id)]
            if col.type in NUMERIC_TYPES or (t.id == "indicators" and col.id == "value"):
                label = f"{t.label}{col.label}"
                out += [(Loc(sheet, xl_rowcol_to_cell(first + i, c)), label) for i in range(t.capacity)]
    return out


def _ods_percent_cells(content: bytes, sheets: set[str]) -> dict[str, set[tuple[int, int]]]:
    """Cells an .ods stores as percentages (office:value-type="percentage"), by sheet."""
    out: dict[str, set[tuple[int, int]]] = {}
    if b'value-type="percentage"' not in content:
        return out
    t, o = "urn:oasis:names:tc:opendocument:xmlns:table:1.0", "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    root = _xml("content.xml", content)
    for table in root.iter(f"{{{t}}}table"):
        name = table.get(f"{{{t}}}name", "")
        if name not in sheets:
            continue
        r = 0
        for row in table.iter(f"{{{t}}}table-row"):
            c = 0
            for cell in row:
                span = min(int(cell.get(f"{{{t}}}number-columns-repeated", "1") or 1), MAX_COLS)
                if cell.get(f"{{{o}}}value-type") == "percentage":
                    out.setdefault(name, set()).update((r, c + k) for k in range(span))
                c += span
            r += int(row.get(f"{{{t}}}number-rows-repeated", "1") or 1)
    return out


def _interpret_formats(sub: Submission, spec: FormSpec, parts: Mapping[str, bytes]) -> None:
    """Read numbers as the person saw them. Percent format: in an indicator's 数值 whose 单位
    is %, 0.95 shown as 95% is 95; elsewhere in 数值 it is the text "95%" (the target parser takes
    it from there); in an amount or head-count cell it is a note, the number kept. A date (the
    program recognised what was typed as one) in a number cell is a note and reads as blank."""
    styles = percent_styles(parts.get("xl/styles.xml")) if parts else frozenset()
    percent: dict[str, set[tuple[int, int]]] = {}
    if sub.format == "ods":
        percent = _ods_percent_cells(parts.get("content.xml", b""), set(sub.values))
    elif styles and sub.scan is not None:
        for name, _state, part in sub.scan.sheets:
            if name in sub.values and part in parts:
                cells = styled_cells(parts[part], styles)
                if cells:
                    percent[name] = cells
    if not percent and not sub.dates:
        return
    value_col = sub.columns.get(("indicators", "value"))
    unit_col = sub.columns.get(("indicators", "unit"))
    for loc, label in _numeric_cells(sub, spec):
        rc = xl_cell_to_rowcol(loc.cell)
        v = sub.values.get(loc.sheet, {}).get(rc)
        if (loc.sheet, rc) in sub.dates:
            del sub.values[loc.sheet][rc]
            sub.notes.append(
                ReadNote(
                    code="value.date",
                    sheet=loc.sheet,
                    cell=loc.cell,
                    actual=str(v),
                    message=f"{label}：填入的内容被识别为日期（{v}），这里应填写数字，"
                    "请把单元格格式改回“常规”后重新填写",
                )
            )
            continue
        if rc not in percent.get(loc.sheet, ()) or not isinstance(v, (int, float)):
            continue
        shown = f"{float(v) * 100:.10g}"
        if value_col and unit_col and loc.sheet == value_col[0] and rc[1] == value_col[2]:
            unit = sub.values.get(unit_col[0], {}).get((rc[0], unit_col[2]))
            if isinstance(unit, str) and unit.strip().replace("％", "%") == "%":
                number = float(shown)
                sub.values[loc.sheet][rc] = int(number) if number.is_integer() else number
            else:
                sub.values[loc.sheet][rc] = f"{shown}%"
            continue
        sub.notes.append(
            ReadNote(
                code="value.percent_format",
                sheet=loc.sheet,
                cell=loc.cell,
                actual=f"{shown}%",
                message=f"{label}：单元格是百分比格式（显示为 {shown}%），这里应填写数字本身，"
                "请把单元格格式改回“常规”后重新填写",
            )
        )


def _error_kind(exc: BaseException) -> str:
    return os_reason(exc) if isinstance(exc, OSError) else type(exc).__name__


def _locate(sub: Submission, spec: FormSpec, layout: Layout) -> None:
    """Fields and table columns by defined name; layout coordinates as fallback."""
    assert sub.scan is not None
    for f in spec.fields:
        ref = parse_ref(sub.scan.names.get(field_name(f.id), ""))
        if ref:
            sub.fields[f.id] = Loc(ref[0], xl_rowcol_to_cell(ref[1], ref[2]))
        else:
            sheet, r, c = layout.fields[f.id]
            sub.fields[f.id] = Loc(sheet, xl_rowcol_to_cell(r, c))
            sub.used_fallback.append(field_name(f.id))
    for t in spec.tables:
        pos = layout.tables[t.id]
        for col in t.columns:
            ref = parse_ref(sub.scan.names.get(column_name(t.id, col.id), ""))
            if ref and ref[3] - ref[1] + 1 == t.capacity:
                sub.columns[(t.id, col.id)] = (ref[0], ref[1], ref[2])
            else:
                sub.columns[(t.id, col.id)] = (pos.sheet, pos.first_row, pos.col(col.id))
                sub.used_fallback.append(column_name(t.id, col.id))


def _extract(sub: Submission, spec: FormSpec) -> FormData:
    data = FormData(kind=spec.kind, year=sub.year or 0)
    for f in spec.fields:
        loc = sub.fields[f.id]
        r, c = xl_cell_to_rowcol(loc.cell)
        data.fields[f.id] = sub.values.get(loc.sheet, {}).get((r, c))
    for t in spec.tables:
        rows: list[dict[str, Value]] = []
        positions: list[int] = []
        where = [(col.id, *sub.columns[(t.id, col.id)]) for col in t.columns]
        used: set[int] = set()  # only rows that hold something are visited
        for sheet in {w[1] for w in where}:  # one pass over each sheet's cells, not one per column
            firsts = {c: first for _cid, sh, first, c in where if sh == sheet}
            for r, cc in sub.values.get(sheet, {}):
                first = firsts.get(cc)
                if first is not None and 0 <= r - first < t.capacity:
                    used.add(r - first)
        for i in sorted(used):
            row = {cid: sub.values.get(sheet, {}).get((first + i, c)) for cid, sheet, first, c in where}
            rows.append(row)
            positions.append(i)
        data.tables[t.id] = rows
        sub.rows[t.id] = positions
    return data
