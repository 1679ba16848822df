"""Keep a sheet's extent bounded before a dense cell reader sees it.

python-calamine materialises a sheet as one dense rectangle from its first to its last cell:
one character in XFD1048576 asks for 16,384 × 1,048,576 cells (512 GB) and the process
aborts. A filled form uses a few dozen columns and a few hundred rows, so a sheet whose cells
all carry in-bounds references (what Excel, WPS, LibreOffice and XlsxWriter write) goes
through untouched after a few literal searches; anything else — a far reference, a cell or
row without a reference, an unusual layout — is rewritten here with only the cells inside
the bound, and what was left out is counted, so the reader can report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

MAX_COLS = 256  # IV: templates use fewer than 20 columns
# fast path: every cell and row in the usual form <c r="..."> / <row r="...">, none far away
_WITHOUT_REF = re.compile(rb'<(?:c|row)(?! r=")[ />]')
# column IW (257) or later, or row 10000 or later; rows between the row limit and 9999 are
# cheap for the cell reader and are cut there
_FAR_REF = re.compile(rb'r="(?:[A-Z]{3,}|[J-Z][A-Z]|I[W-Z]|[A-Z]*[1-9][0-9]{4,}")')
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")


@dataclass(frozen=True)
class Outside:
    """Cells left out of a bounded sheet."""

    cells: int  # non-empty cells outside the bound
    rows: int  # rows holding them
    farthest: str  # the farthest such cell, as A1
    rows_past_limit: int  # of those rows, the ones at or past the row limit


def needs_bounding(xml: bytes) -> bool:
    """False for the sheets every spreadsheet program writes: cheap literal searches only."""
    if b"<sheetData" not in xml or b"r='" in xml:
        return True  # namespace prefixes or single quotes: take the careful path
    return bool(_WITHOUT_REF.search(xml) or _FAR_REF.search(xml))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _has_content(cell: ET.Element) -> bool:
    return any(_local(child.tag) in ("v", "is", "f") and (child.text or len(child)) for child in cell)


def bound_sheet(xml: bytes, max_rows: int, max_cols: int = MAX_COLS) -> tuple[bytes, Outside | None]:
    """The sheet with every cell and row given an explicit reference and only cells within
    rows < max_rows and columns < max_cols kept (0-based). The XML must already be known free
    of DTDs (the reader refuses those first)."""
    root = ET.fromstring(xml)
    data = next((el for el in root if _local(el.tag) == "sheetData"), None)
    if data is None:
        return xml, None
    dropped_cells = 0
    dropped_rows: set[int] = set()
    farthest = (-1, -1)
    r = -1
    for row in list(data):
        if _local(row.tag) != "row":
            data.remove(row)
            continue
        r = _row_index(row.get("r"), r)
        row.set("r", str(r + 1))
        row.attrib.pop("spans", None)
        c = -1
        for cell in list(row):
            if _local(cell.tag) != "c":
                continue
            ref = _REF.match(cell.get("r") or "")
            if ref:  # a cell claiming another row is put in its row's
                c = xl_cell_to_rowcol(ref.group(0))[1]
            else:
                c += 1
            if r >= max_rows or c >= max_cols:
                row.remove(cell)
                if _has_content(cell):
                    dropped_cells += 1
                    dropped_rows.add(r)
                    farthest = max(farthest, (r, c))
                continue
            cell.set("r", xl_rowcol_to_cell(r, c))
        if r >= max_rows:
            data.remove(row)
    out = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    if not dropped_cells:
        return out, None
    past = sum(1 for r in dropped_rows if r >= max_rows)
    return out, Outside(dropped_cells, len(dropped_rows), xl_rowcol_to_cell(*farthest), past)


def _row_index(attr: str | None, previous: int) -> int:
    if attr and attr.isdigit() and 0 < int(attr) <= 1_048_576:
        return int(attr) - 1
    return previous + 1
