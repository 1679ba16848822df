"""Review rounds: a stable number for every problem, and the auditors' notes carried from one
merge to the next.

A bureau merges many times a season. The number (问题编号) of a problem does not depend on its
cell address, message text or values: it is built from the year, the form kind, the entity, the
rule and a semantic anchor (the field; for table rows the task or the 一级/二级/三级 indicator
path, plus the column), so inserting a row above or fixing another problem keeps it. Each merge
reads the previous consolidated workbook, carries 核实情况 / 处理意见 / 处置 over by number,
and says what happened to each problem since: 新发现, 仍存在, 仍存在（数值有变化）, 已整改 (gone
after the entity resubmitted), 未复核 (gone, but the entity did not resubmit). A problem that
went away keeps its row and its notes: nothing an auditor wrote is ever dropped.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xlsxwriter.utility import xl_cell_to_rowcol

from perfxl.values import normalise

if TYPE_CHECKING:
    from perfxl.findings import Finding
    from perfxl.read import Loc, Submission
    from perfxl.rules import Outcome

DISPOSITIONS = ("属实待整改", "已说明可接受", "误报", "不适用")  # the 处置 dropdown
NEW, OPEN, CHANGED, FIXED, UNREVIEWED = "新发现", "仍存在", "仍存在（数值有变化）", "已整改", "未复核"
NOTE_COLUMNS = ("核实情况", "处理意见", "处置")  # what auditors type; everything else is ours
# the columns whose values identify a table row for the problem number, by table
ROW_KEYS = {"indicators": ("level1", "level2", "level3"), "tasks": ("function", "task")}


def problem_key(year: int | None, kind: str, entity: str, rule: str, anchor: str) -> str:
    """问题编号: short, stable, the same wherever the problem is shown."""
    text = "\x1f".join((str(year or ""), kind, normalise(entity), rule, anchor))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10].upper()


def field_cells(sub: Submission) -> dict[tuple[str, str], str]:
    """(sheet, cell) → field id, the first field at a place (as anchor_of would find it)."""
    out: dict[tuple[str, str], str] = {}
    for fid, loc in sub.fields.items():
        out.setdefault((loc.sheet, loc.cell), fid)
    return out


def anchor_of(sub: Submission | None, sheet: str, cell: str, fields: dict[tuple[str, str], str] | None = None) -> str:
    """What a cell is, in terms that survive moved rows: field:<id>, <table>:<row key>:<column>,
    or (totals, labels: fixed places in every copy) the cell itself. `fields`: field_cells(sub),
    for a caller that anchors many cells of one submission."""
    if sub is None or not cell:
        return f"sheet:{sheet}" if sheet else ""
    fid = (fields if fields is not None else field_cells(sub)).get((sheet, cell))
    if fid is not None:
        return f"field:{fid}"
    r, c = xl_cell_to_rowcol(cell)
    for (tid, cid), (sh, first, col) in sub.columns.items():
        if sh != sheet or col != c or r < first:
            continue
        positions = sub.rows.get(tid, [])
        if (r - first) in positions and sub.data is not None:
            k = positions.index(r - first)
            row = sub.data.tables[tid][k]
            return f"{tid}:{row_label(tid, row)}:{cid}"
    return f"cell:{sheet}!{cell}"


@dataclass(frozen=True)
class RuleNumbers:
    """The anchors and problem numbers of a file's rule rows (its outcomes, each a row of 交叉校验),
    made where the file is checked (in parallel, and kept with its report in the cache): a merge
    takes them instead of making them again (merging.Ahead) when made for the same year, form
    kind and entity."""

    year: int | None
    kind: str
    entity: str
    anchors: tuple[str, ...]  # per outcome: its cell's anchor_of ("" without a cell)
    keys: tuple[str, ...]  # per outcome: problem_key(year, kind, entity, rule, anchor)


def rule_numbers(
    outcomes: Sequence[tuple[Outcome, Loc | None]], sub: Submission, year: int | None, kind: str, entity: str
) -> RuleNumbers:
    places = field_cells(sub)
    made: dict[tuple[str, str], str] = {}  # several rules point at one cell
    anchors, keys = [], []
    for o, loc in outcomes:
        anchor = ""
        if loc is not None:
            got = made.get((loc.sheet, loc.cell))
            if got is None:
                got = made[(loc.sheet, loc.cell)] = anchor_of(sub, loc.sheet, loc.cell, places)
            anchor = got
        anchors.append(anchor)
        keys.append(problem_key(year, kind, entity, o.rule.id, anchor))
    return RuleNumbers(year, kind, entity, tuple(anchors), tuple(keys))


def row_label(table: str, row: dict[str, Any]) -> str:
    """A table row by its content (normalised), not its position."""
    cols = ROW_KEYS.get(table) or tuple(row)[:1]
    return "/".join(normalise(str(row.get(c) or "")) for c in cols)


def keyed(findings: list[Finding], year: int | None, kind: str, entity: str, sub: Submission | None,
          fallback: str = "") -> list[Finding]:  # fmt: skip
    """The findings of one file with their problem numbers; true duplicates (same rule, same
    anchor) are told apart by a counter."""
    seen: Counter[tuple[str, str]] = Counter()
    fields = field_cells(sub) if sub is not None else None
    for f in findings:
        anchor = anchor_of(sub, f.sheet, f.cell, fields) or fallback
        seen[(f.rule, anchor)] += 1
        n = seen[(f.rule, anchor)]
        # set in place: a county's findings are many, and nobody else holds these yet
        object.__setattr__(f, "key", problem_key(year, kind, entity, f.rule, anchor + (f"#{n}" if n > 1 else "")))
    return findings


@dataclass(frozen=True)
class Notes:
    """What auditors typed beside a problem."""

    checked: str = ""  # 核实情况
    advice: str = ""  # 处理意见
    disposition: str = ""  # 处置

    def __bool__(self) -> bool:
        return bool(self.checked or self.advice or self.disposition)

    def merged(self, other: Notes) -> Notes:
        """Ours where we have something, theirs where we do not."""
        return Notes(self.checked or other.checked, self.advice or other.advice, self.disposition or other.disposition)

    def __reduce__(self) -> tuple[type[Notes], tuple[str, str, str]]:
        # the previous round comes back from its reader pickled: a county's has tens of thousands
        return Notes, (self.checked, self.advice, self.disposition)


@dataclass
class PastProblem:
    """A problem as the previous round's workbook shows it."""

    key: str
    notes: Notes
    status: str
    first_seen: str
    first_round: int
    values: str  # expected/actual or left/right as shown, to tell 仍存在 from 仍存在（数值有变化）
    row: dict[str, Any]  # every column of its 问题清单 row, to carry it if it went away

    def __reduce__(self) -> tuple[type[PastProblem], tuple[Any, ...]]:
        # as Notes: the dataclass default rebuilds each from a dict, 3× slower
        return PastProblem, (
            self.key,
            self.notes,
            self.status,
            self.first_seen,
            self.first_round,
            self.values,
            self.row,
        )


@dataclass
class PreviousRound:
    """What the previous consolidated workbook says, as far as review rounds need it."""

    number: int = 0
    date: str = ""
    problems: dict[str, PastProblem] = field(default_factory=dict)
    files: dict[tuple[str, str], str] = field(default_factory=dict)  # (类别, 对象) → SHA-256 accepted
    problem: str = ""  # why it could not be read ("" when it could)
    source: Path | None = None  # the workbook, read again only if a change list needs its data sheets
    _data: dict[tuple[str, str], dict[str, Any]] | None = field(default=None, repr=False)

    def data_of(self, who: tuple[str, str]) -> dict[str, Any] | None:
        """An accepted entity's form content (item → value) as the data sheets show it. Read on
        first use: the data sheets are most of a county workbook, and a re-merge usually finds
        the previous files' own data in its cache (see merging._apply_review)."""
        if self._data is None:
            self._data = {}
            if self.source is not None:
                try:
                    wb = _Book(self.source)
                    try:
                        self._data = previous_data(wb)
                    finally:
                        wb.close()
                except Exception:  # gone or changed since read_previous: no change list against it
                    self._data = {}
        return self._data.get(who)


@dataclass
class Review:
    """A problem's state in this round."""

    status: str
    first_seen: str
    first_round: int
    notes: Notes = field(default_factory=Notes)


def round_label(number: int, date: str) -> str:
    return f"第 {number} 轮（{date}）"


def values_text(*values: Any) -> str:
    return " | ".join("" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v) for v in values)


def review(key: str, values: str, previous: PreviousRound, number: int, date: str) -> Review:
    """The state of a problem found in this round."""
    past = previous.problems.get(key)
    if past is None:
        return Review(NEW, date, number)
    if not past.status:  # its row had no state: a check that passed (交叉校验 lists those too)
        return Review(NEW, date, number, past.notes)
    status = OPEN if past.values == values else CHANGED
    return Review(status, past.first_seen or date, past.first_round or number, past.notes)


def gone(past: PastProblem, resubmitted: bool) -> Review:
    """The state of a problem the previous round had and this one does not."""
    status = past.status if past.status in (FIXED, UNREVIEWED) and not resubmitted else None
    return Review(status or (FIXED if resubmitted else UNREVIEWED), past.first_seen, past.first_round, past.notes)


def read_previous(path: Path) -> PreviousRound:
    """The previous round from a consolidated workbook perfxl wrote (and auditors edited in
    Excel, WPS or LibreOffice). Anything unreadable gives an empty round with a reason."""
    try:
        wb = _Book(path)
    except Exception as exc:  # not a workbook, damaged, locked: start afresh, say why
        return PreviousRound(problem=f"上一轮汇总文件无法读取（{type(exc).__name__}），按第一轮处理")
    try:
        return _round(wb, path)
    except Exception as exc:
        return PreviousRound(problem=f"上一轮汇总文件的内容无法识别（{type(exc).__name__}），按第一轮处理")
    finally:
        wb.close()


def round_of(sheets: dict[str, list[list[Any]]]) -> PreviousRound:
    """What `read_previous` will read from a workbook this merge writes, made from the rows it
    writes there (说明, 提交情况, 交叉校验, 问题清单; each cell as `as_read` says it reads back):
    kept with the workbook's SHA-256, so that the next merge, finding the workbook as written (no
    auditor has typed in it), need not read it back (half a CPU-second at 2,000 submissions)."""
    return _round(_Rows(sheets), None)


class NotExact(ValueError):
    """A value that would not read back exactly as written (see `as_read`)."""


def as_read(row: Sequence[Any]) -> list[Any]:
    """A row of cells as `read_previous` gets it back (calamine) after the fast row writer wrote
    it (_xlsxwriter_fast.write_fast_rows; a link cell (url, text) shows its text): "" for an
    empty cell, numbers as floats, text as it is. Text an XML round trip would change (control
    characters, carriage returns, what looks like an _xHHHH_ escape, over 32,767 characters)
    raises NotExact: such a workbook is read back instead."""
    out = [v if type(v) is str else _as_read(v) for v in row]
    text = "\t".join([v for v in out if type(v) is str])  # one search per row (a tab reads back)
    if _INEXACT.search(text) or (len(text) > 32767 and any(len(v) > 32767 for v in out if type(v) is str)):
        raise NotExact(text[:40])
    return out


def _as_read(v: Any) -> Any:
    t = type(v)
    if t is tuple:
        v = v[1]
        t = type(v)
        if t is str:
            return v
    if v is None:
        return ""
    if t is bool:
        return "是" if v else "否"
    if (t is int or t is float) and isfinite(v):
        return float(f"{v:.16G}")
    raise NotExact(repr(v)[:40])


# what XML cannot carry as it is (carriage returns read back as line feeds, U+FFFE/U+FFFF are not
# XML characters) and what the writer escapes as _xHHHH_
_INEXACT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")


class _Sheets:
    """Sheets by name: `raw` rows as calamine gives them (an empty cell is ""), or with None."""

    sheetnames: list[str]

    def raw(self, name: str) -> list[list[Any]]:
        raise NotImplementedError

    def __getitem__(self, name: str) -> list[list[Any]]:
        return [[None if v == "" else v for v in row] for row in self.raw(name)]


class _Rows(_Sheets):
    """Sheets as rows of values as calamine reads them (`_Book`), from what was written."""

    def __init__(self, sheets: dict[str, list[list[Any]]]) -> None:
        self._sheets = sheets
        self.sheetnames = list(sheets)

    def raw(self, name: str) -> list[list[Any]]:
        return self._sheets[name]


def _round(wb: _Sheets, path: Path | None) -> PreviousRound:
    """The previous round as a workbook's sheets show it."""
    prev = PreviousRound(source=path)
    if "说明" in wb.sheetnames:
        for row in wb["说明"]:
            if row and row[0] == "审核轮次" and len(row) > 1 and isinstance(row[1], str):
                number, _, date = row[1].partition("（")
                prev.number = int("".join(ch for ch in number if ch.isdigit()) or 0)
                prev.date = date.rstrip("）")
    if "提交情况" in wb.sheetnames:
        for rec in _records(wb["提交情况"]):
            if rec.get("状态") == "已接收" and rec.get("SHA-256"):
                prev.files[(str(rec.get("类别") or ""), str(rec.get("名称") or ""))] = str(rec["SHA-256"])
    # the same number in both sheets: notes from either count
    if "交叉校验" in wb.sheetnames:  # tens of thousands of rows in a county: only the columns used
        for number, checked, advice, disposition, right, left, rnd, seen, status in _keyed_columns(
            wb.raw("交叉校验"), "问题编号", _CHECK_COLUMNS
        ):
            key = str(number or "").strip()
            if not key:
                continue
            # a rule's right side is what the finding calls expected, its left the actual
            notes = _notes(_text(checked), _text(advice), _text(disposition))
            if not notes and not _text(status):  # a check that passed, nobody's note: nothing to carry
                continue
            past = prev.problems.get(key)
            if past is None:
                values = values_text(right, left)
                prev.problems[key] = PastProblem(key, notes, _text(status), _text(seen), _round_number(rnd), values, {})
            else:
                past.notes = past.notes.merged(notes)
    if "问题清单" in wb.sheetnames:
        for rec in _keyed_records(wb.raw("问题清单"), "问题编号"):
            key = str(rec.get("问题编号") or "").strip()
            if not key:
                continue
            notes = _notes(*(_text(rec.get(c)) for c in NOTE_COLUMNS))
            values = values_text(rec.get("期望"), rec.get("实际"))
            past = prev.problems.get(key)
            if past is None:
                seen = _text(rec.get("首次发现"))
                status = _text(rec.get("状态"))
                prev.problems[key] = PastProblem(key, notes, status, seen, _round_number(rec.get("轮次")), values, rec)
            else:
                past.notes = notes.merged(past.notes)
                past.row, past.values, past.status = rec, values, _text(rec.get("状态")) or past.status
    return prev


_NO_NOTES = Notes()


def _notes(checked: str, advice: str, disposition: str) -> Notes:
    """Most problems have none: one shared empty Notes (frozen) pickles once, not per problem."""
    return Notes(checked, advice, disposition) if checked or advice or disposition else _NO_NOTES


def read_notes(path: Path) -> dict[str, Notes]:
    """The auditors' notes in a consolidated workbook, by problem number (for other tools)."""
    return {k: p.notes for k, p in read_previous(path).problems.items() if p.notes}


class _Book(_Sheets):
    """A consolidated workbook read back with python-calamine (a county's has tens of thousands
    of rows; openpyxl takes seconds for what this takes a fraction of): sheet names, and each
    sheet as rows of values, numbers as Excel stores them."""

    def __init__(self, path: Path) -> None:
        from python_calamine import CalamineWorkbook

        self._book = CalamineWorkbook.from_path(str(path))
        self.sheetnames = list(self._book.sheet_names)

    def raw(self, name: str) -> list[list[Any]]:
        """Rows as calamine gives them: an empty cell is ""."""
        rows: list[list[Any]] = self._book.get_sheet_by_name(name).to_python()
        return rows

    def close(self) -> None:
        self._book.close()


def _records(ws: Any) -> list[dict[str, Any]]:
    rows = iter(ws)
    head = next(rows, None)
    if not head:
        return []
    names = [str(h) if h is not None else "" for h in head]
    return [dict(zip(names, row, strict=False)) for row in rows if row and any(v is not None for v in row)]


def _keyed_records(rows: list[list[Any]], key: str) -> Iterator[dict[str, Any]]:
    """`_records` of the rows whose `key` column holds something (the others are not read further:
    a county's 交叉校验 has tens of thousands of rows)."""
    names, keyed = _keyed(rows, key)
    for row in keyed:
        yield dict(zip(names, [None if v == "" else v for v in row], strict=False))


_CHECK_COLUMNS = ("问题编号", *NOTE_COLUMNS, "右值", "左值", "轮次", "首次发现", "状态")


def _keyed_columns(rows: list[list[Any]], key: str, columns: tuple[str, ...]) -> Iterator[list[Any]]:
    """What `_keyed_records` gives of `columns`, as a list per row (no dict per row): the same
    values (an empty cell or a missing column is None; of two equal headers, the last)."""
    names, keyed = _keyed(rows, key)
    at = {n: i for i, n in enumerate(names)}
    where = [at.get(c, -1) for c in columns]
    for row in keyed:
        cols = where
        if len(row) < len(names):  # a short row (not from calamine): a record holds only its first names
            part = {c: i for i, c in enumerate(names[: len(row)])}
            cols = [part.get(c, -1) for c in columns]
        yield [None if i < 0 or row[i] == "" else row[i] for i in cols]


def _keyed(rows: list[list[Any]], key: str) -> tuple[list[str], Iterator[list[Any]]]:
    """The header's names, and the rows below it whose `key` column (the first so named) holds
    something; no rows when there is no such column."""
    it = iter(rows)
    head = next(it, None)
    if not head or key not in head:
        return [], iter(())
    names = ["" if h in (None, "") else str(h) for h in head]
    k = names.index(key)
    return names, (row for row in it if k < len(row) and row[k] not in (None, ""))


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _round_number(v: Any) -> int:
    text = _text(v).partition("（")[0]
    return int("".join(ch for ch in text if ch.isdigit()) or 0)


def keep_copy(path: Path, previous: PreviousRound) -> Path | None:
    """Keep the previous round's workbook beside the new one, named for its round and date
    (`汇总_第2轮_2024-03-01.xlsx`); never overwrites an earlier copy. A hard link where the
    file system has them (a county workbook is tens of MB): the new workbook is renamed over
    the old name, never written into the old file, so the kept one stays as it was."""
    import shutil

    if not path.exists():
        return None
    label = f"第{previous.number}轮_{previous.date}" if previous.number else "上一轮"
    target = path.with_name(f"{path.stem}_{label}{path.suffix}")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.stem}_{label}_{n}{path.suffix}")
        n += 1
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
    return target


# ----- what changed in a resubmission ----------------------------------------------------


def typed_target(row: dict[str, Any]) -> str:
    """An indicator's target as typed (符号, 数值, 单位 together): what 绩效指标 shows as 原文."""
    value = row.get("value")
    unit = f" {row['unit']}" if row.get("unit") else ""
    return f"{row.get('op') or ''}{'' if value is None else value}{unit}".strip()


@dataclass(frozen=True)
class Change:
    """One changed item of a form between two versions of it."""

    kind: str  # dept / project
    entity: str
    item: str  # 填报项·… / 任务·…·… / 指标·一级/二级/三级
    old: Any
    new: Any
    against: str  # 上一轮 / the superseded file's name
    path: Path | None = None
    loc: Any = None  # read.Loc of the new value, when it has a cell


Snapshot = dict[str, tuple[Any, Any]]  # item → (value, Loc or None)


def snapshot(sub: Submission) -> Snapshot:
    """A form's content as item → value, items named as the consolidated data sheets name them."""
    from perfxl.forms import get_spec

    assert sub.data is not None and sub.kind is not None
    spec = get_spec(sub.kind)
    out: Snapshot = {}
    for f in spec.fields:
        out[f"填报项·{f.label}"] = (sub.data.fields.get(f.id), sub.fields.get(f.id))
    if "tasks" in sub.data.tables:
        t = spec.table("tasks")
        for i, row in enumerate(sub.data.tables["tasks"]):
            label = row_label("tasks", row)
            for c in t.columns:
                if c.id not in ROW_KEYS["tasks"]:
                    out[f"任务·{label}·{c.label}"] = (row.get(c.id), sub.cell("tasks", i, c.id))
    for i, row in enumerate(sub.data.tables.get("indicators", [])):
        out[f"指标·{row_label('indicators', row)}"] = (typed_target(row), sub.cell("indicators", i, "value"))
    return out


def changes(
    old: dict[str, Any], new: Snapshot, kind: str, entity: str, against: str, path: Path | None
) -> list[Change]:
    """Items whose value differs (added and removed ones included), in the new form's order."""
    out = []
    for item, (value, loc) in new.items():
        before = old.get(item)
        if not _same_value(before, value):
            out.append(Change(kind, entity, item, before, value, against, path, loc))
    for item, before in old.items():
        if item not in new and before not in (None, ""):
            out.append(Change(kind, entity, item, before, None, against, path, None))
    return out


def _same_value(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-9
    return str(a) == str(b)


def previous_data(wb: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(类别, 对象) → item → value, from a consolidated workbook's data sheets."""
    from perfxl.forms import KIND_LABELS, get_spec

    out: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, sheet in (("dept", "部门整体"), ("project", "项目")):
        if sheet not in wb.sheetnames:
            continue
        spec = get_spec(kind)
        labels = {f.label + ("（万元）" if f.type.name == "MONEY" else ""): f.label for f in spec.fields}
        name_label = spec.fields[0].label
        for rec in _records(wb[sheet]):
            entity = _text(rec.get(name_label)).strip()
            snap = out.setdefault((KIND_LABELS[kind], entity), {})
            for header, label in labels.items():
                snap[f"填报项·{label}"] = rec.get(header)
    if "年度主要任务" in wb.sheetnames:
        t = get_spec("dept").table("tasks")
        for rec in _records(wb["年度主要任务"]):
            entity = _text(rec.get("部门名称")).strip()
            row = {c.id: rec.get(c.label) for c in t.columns}
            label = row_label("tasks", row)
            snap = out.setdefault((KIND_LABELS["dept"], entity), {})
            for c in t.columns:
                if c.id not in ROW_KEYS["tasks"]:
                    snap[f"任务·{label}·{c.label}"] = row.get(c.id)
    if "绩效指标" in wb.sheetnames:
        for rec in _records(wb["绩效指标"]):
            entity = _text(rec.get("部门或项目名称")).strip()
            row = {"level1": rec.get("一级指标"), "level2": rec.get("二级指标"), "level3": rec.get("三级指标")}
            snap = out.setdefault((_text(rec.get("类别")), entity), {})
            snap[f"指标·{row_label('indicators', row)}"] = rec.get("目标值（原文）")
    return out
