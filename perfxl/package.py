"""The conventions a template and its readers share: one place that defines them.

Sheet names, the defined names that locate every input (fld_*, col_*, tot_*, tbl_*), the
hidden _meta sheet's record, the fixed document stamp, who a copy is issued for, and the
locked texts with their fingerprint. The template writer writes what is defined here;
the reader, the checker, merge and the consolidated workbook read it from here. Nothing
here writes a workbook.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from perfxl.forms.model import FormSpec
from perfxl.instructions import instruction_rows
from perfxl.layout import LOCKED_ROLES, build_layout
from perfxl.vocab import FRAMES, OPERATORS, PROJECT_CATEGORIES, UNITS, YES_NO, Frame

META_SHEET = "_meta"  # very hidden: the record below, one key per row
LISTS_SHEET = "_lists"  # very hidden: dropdown sources
INSTRUCTIONS_SHEET = "填报说明"
RESULT_SHEET = "校验结果"  # added in front by `check --annotate`; a returned annotated copy keeps it
META_NAME = "perfxl_meta"  # defined name over the _meta record
FIXED_CREATED = datetime(2020, 1, 1, 0, 0, 0)  # every workbook perfxl writes carries this stamp
DEFAULT_YEAR = 2024  # the layout a file is read with when its _meta year is missing or unreadable


def field_name(field_id: str) -> str:
    """Defined name of a single input cell."""
    return f"fld_{field_id}"


def table_name(table_id: str) -> str:
    """Defined name of a table's whole input area."""
    return f"tbl_{table_id}"


def column_name(table_id: str, column_id: str) -> str:
    """Defined name of one input column of a table (every row of its capacity)."""
    return f"col_{table_id}_{column_id}"


def total_name(table_id: str, column_id: str) -> str:
    """Defined name of a table column's total cell."""
    return f"tot_{table_id}_{column_id}"


@dataclass(frozen=True, kw_only=True)
class Meta:
    """The _meta sheet: what a template copy says about itself (key in column A, value in B)."""

    form_kind: str = ""
    form_title: str = ""
    spec_version: str = ""
    year: str = ""
    fingerprint: str = ""
    copy_id: str = ""
    issued_for: str = ""
    competent_dept: str = ""
    catalog_category: str = ""
    catalog_seq: str = ""
    frame: str = ""
    generator: str = ""
    indicator_library: str = ""  # the common-indicator library prefilled (file name), if any
    indicator_library_sha256: str = ""

    def rows(self) -> list[tuple[str, str]]:
        """(key, value) in sheet order, for the writer."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> Meta:
        """From what a reader found in the sheet; unknown keys are ignored, missing ones empty."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in rows if k in known})

    @property
    def year_number(self) -> int | None:
        try:
            return int(self.year)
        except ValueError:
            return None

    @property
    def copy(self) -> CopyInfo:
        """Who the copy was issued for, as the template writer was told."""
        return CopyInfo(entity=self.issued_for, competent=self.competent_dept, category=self.catalog_category,
                        seq=self.catalog_seq)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CopyInfo:
    """Who a template copy is issued for (empty for the blank template)."""

    entity: str = ""
    competent: str = ""
    category: str = ""
    seq: str = ""

    def prefill(self, key: str | None) -> str:
        """The value a field with `prefill=key` carries in this copy ("" when none)."""
        return {"entity": self.entity, "competent": self.competent}.get(key or "", "")


def copy_id(spec: FormSpec, year: int, info: CopyInfo) -> str:
    key = f"perfxl:{spec.kind}:{spec.version}:{year}:{info.seq}:{info.entity}:{info.competent}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def fingerprint(cells: Iterable[tuple[str, str, str]]) -> str:
    """Hash of locked text: non-empty (sheet, cell, text), in sheet/row/col order.

    Formulas are left out on purpose: Excel and WPS rewrite formula text when
    they save (quoting, shared formulas), while labels survive byte for byte.
    """
    keyed = sorted((sheet, *xl_cell_to_rowcol(ref), ref, content) for sheet, ref, content in cells if content)
    h = hashlib.sha256()
    for sheet, _r, _c, ref, content in keyed:
        h.update(_fingerprint_line(sheet, ref, content))
    return h.hexdigest()


def _fingerprint_line(sheet: str, ref: str, content: str) -> bytes:
    return f"{sheet}\t{ref}\t{content}\n".encode()


def list_columns(frame: Frame) -> list[tuple[str, str, list[str]]]:
    """The dropdown sources: (defined name, header, values), one column each."""
    return [
        ("lst_level1", "一级指标", frame.level1()),
        ("lst_frame_l1", "框架·一级", [a for a, _ in frame.pairs()]),
        ("lst_frame_l2", "框架·二级", [b for _, b in frame.pairs()]),
        ("lst_ops", "符号", list(OPERATORS)),
        ("lst_units", "单位", list(UNITS)),
        ("lst_category", "项目类别", list(PROJECT_CATEGORIES)),
        ("lst_yesno", "是否", list(YES_NO)),
    ]


@dataclass(frozen=True)
class CopyTexts:
    """The locked texts of every copy of one (spec, year), split into what all copies share
    and the prefilled slots (entity, competent) each copy fills in.

    A county merge checks thousands of copies, each issued for someone else: this keeps the
    per-copy work to those few slots instead of re-walking the layout for every file.
    """

    shared: tuple[tuple[str, str, str], ...]  # (sheet, cell, text) in every copy
    slots: tuple[tuple[str, str, str], ...]  # (sheet, cell, prefill key): locked when the copy names it
    chunks: tuple[bytes | tuple[str, str, str], ...]  # fingerprint input in cell order; tuples are slots

    def slot_texts(self, info: CopyInfo) -> list[tuple[str, str, str]]:
        return [(sheet, ref, info.prefill(key)) for sheet, ref, key in self.slots if info.prefill(key)]

    def texts(self, info: CopyInfo) -> list[tuple[str, str, str]]:
        return [*self.shared, *self.slot_texts(info)]

    def fingerprint(self, info: CopyInfo) -> str:
        """Equal to `fingerprint(self.texts(info))` (tested), without sorting per copy."""
        h = hashlib.sha256()
        for chunk in self.chunks:
            if isinstance(chunk, bytes):
                h.update(chunk)
            elif value := info.prefill(chunk[2]):
                h.update(_fingerprint_line(chunk[0], chunk[1], value))
        return h.hexdigest()


_COPY_TEXTS: dict[tuple[int, int], tuple[FormSpec, CopyTexts]] = {}


def copy_texts(spec: FormSpec, year: int) -> CopyTexts:
    """Cached per (spec, year); read-only."""
    key = (id(spec), year)
    hit = _COPY_TEXTS.get(key)
    if hit is None or hit[0] is not spec:
        if len(_COPY_TEXTS) > 256:
            _COPY_TEXTS.clear()
        hit = _COPY_TEXTS[key] = (spec, _build_copy_texts(spec, year))
    return hit[1]


def _build_copy_texts(spec: FormSpec, year: int) -> CopyTexts:
    shared: list[tuple[str, str, str]] = []
    slots: list[tuple[str, str, str]] = []
    for cell in build_layout(spec, year).cells():
        prefill = spec.field(cell.field).prefill if cell.role == "input" and cell.field else None
        if prefill:
            slots.append((cell.sheet, cell.ref, prefill))
        elif cell.role in LOCKED_ROLES and cell.formula is None and cell.text:
            shared.append((cell.sheet, cell.ref, cell.text))
    for r, (_style, values) in enumerate(instruction_rows(spec, year, FRAMES[spec.frame])):
        shared += [(INSTRUCTIONS_SHEET, xl_rowcol_to_cell(r, c), v) for c, v in enumerate(values) if v]
    for c, (_name, header, values) in enumerate(list_columns(FRAMES[spec.frame])):
        shared += [(LISTS_SHEET, xl_rowcol_to_cell(r, c), v) for r, v in enumerate([header, *values]) if v]
    ordered = sorted(
        [(sheet, *xl_cell_to_rowcol(ref), ref, text, False) for sheet, ref, text in shared]
        + [(sheet, *xl_cell_to_rowcol(ref), ref, key, True) for sheet, ref, key in slots]
    )
    chunks: list[bytes | tuple[str, str, str]] = []
    run: list[bytes] = []
    for sheet, _r, _c, ref, text, is_slot in ordered:
        if is_slot:
            chunks += [b"".join(run), (sheet, ref, text)] if run else [(sheet, ref, text)]
            run = []
        else:
            run.append(_fingerprint_line(sheet, ref, text))
    if run:
        chunks.append(b"".join(run))
    return CopyTexts(shared=tuple(shared), slots=tuple(slots), chunks=tuple(chunks))


def locked_texts(spec: FormSpec, year: int, info: CopyInfo | None = None) -> list[tuple[str, str, str]]:
    """Every locked text a template copy carries, as (sheet, cell, text): what the
    fingerprint hashes and what a reader compares a submission against."""
    return copy_texts(spec, year).texts(info or CopyInfo())


def expected_fingerprint(spec: FormSpec, year: int, info: CopyInfo) -> str:
    return copy_texts(spec, year).fingerprint(info)
