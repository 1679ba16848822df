"""Check submissions: structure, values, schemas, rules → located findings.

The engine attaches file, sheet and cell to what readers, parsers, schemas and
rules report; none of those know about each other. Every input file comes out
with a status, whatever it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from perfxl.codes import severity_of
from perfxl.data import numeric_view
from perfxl.derive import DERIVED_LOCATION, Derived, UnitCost, derive, unit_costs
from perfxl.errors import os_reason
from perfxl.findings import Finding, Severity
from perfxl.forms import get_spec
from perfxl.forms.model import NUMERIC_TYPES, FormSpec, TableBlock, ValueType
from perfxl.layout import build_layout
from perfxl.package import (
    DEFAULT_YEAR,
    FIXED_CREATED,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    META_SHEET,
    RESULT_SHEET,
    CopyInfo,
    copy_texts,
    expected_fingerprint,
    total_name,
)
from perfxl.read import Loc, Submission, parse_ref, read_submission
from perfxl.rules import Op, Outcome, Rule, Term, evaluate, rules_for
from perfxl.schema import Failure, fields_schema, table_schema, validate
from perfxl.values import Problem, Target, normalise, parse_amount, parse_target, split_operator
from perfxl.vocab import FRAMES, QUALITATIVE

Status = Literal["ok", "findings", "rejected"]
STATUS_LABEL = {"ok": "通过", "findings": "有问题", "rejected": "无法读取"}


@dataclass(kw_only=True)
class FileReport:
    """One input file's outcome: status, findings, and (for merge) what was read."""

    path: Path
    status: Status = "ok"
    kind: str | None = None
    entity: str = ""
    sha256: str = ""
    findings: list[Finding] = field(default_factory=list)
    submission: Submission | None = None
    targets: list[Target] = field(default_factory=list)
    # every rule evaluated on this file, passed and skipped ones included (for 交叉校验)
    outcomes: list[tuple[Outcome, Loc | None]] = field(default_factory=list)

    def add(self, *, rule: str, severity: Severity | None = None, **kw: Any) -> None:
        """Record a finding on this file; its severity is the finding catalog's (codes.py)
        unless the emitter knows better (a rule's own, a parser's per problem)."""
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity or severity_of(rule),
                form=self.kind or "",
                entity=self.entity,
                file=str(self.path),
                **kw,
            )
        )


@dataclass
class CheckReport:
    """The outcome of checking a batch of files, one FileReport each, in input order."""

    files: list[FileReport]
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # met in folders, not workbooks (why)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings]

    def count(self, severity: Severity) -> int:
        return sum(f.severity is severity for f in self.findings)


def check_paths(paths: Sequence[str | Path], *, year: int | None = None) -> CheckReport:
    """Check files in this process (check_files runs the same in worker processes, crash-proof)."""
    reports = [_read(Path(p)) for p in paths]
    _structure_values_and_rules(reports, year)
    _schemas(reports)
    for r in reports:
        r.findings.sort(key=_order)
        if r.status != "rejected":
            r.status = "findings" if r.findings else "ok"
        if r.submission is not None:
            r.submission.slim()
    return CheckReport(reports)


def _order(f: Finding) -> tuple[int, str, int, int, str]:
    row, col = xl_cell_to_rowcol(f.cell) if f.cell else (-1, -1)
    return (-f.severity.rank if f.rule.startswith(("file.", "template.")) else 0, f.sheet, row, col, f.rule)


def _read(path: Path) -> FileReport:
    report = FileReport(path=path)
    try:
        sub = read_submission(path)
    except OSError as exc:
        report.status = "rejected"
        report.add(rule="file.unreadable", message=f"文件无法读取：{os_reason(exc)}")
        return report
    except Exception as exc:
        _internal_error(report, exc)
        return report
    report.submission, report.sha256, report.kind = sub, sub.sha256, sub.kind
    if sub.problem:
        report.status = "rejected"
        rule = "file.not_template" if sub.scan is not None else "file.unreadable"
        report.add(rule=rule, severity=Severity.ERROR, message=sub.problem)
        return report
    assert sub.data is not None and sub.kind is not None
    spec = get_spec(sub.kind)
    entity_field = spec.fields[0].id if spec.fields[0].prefill == "entity" else ""
    name = sub.data.fields.get(entity_field)
    report.entity = str(name).strip() if name else sub.meta.issued_for or path.stem
    return report


# ----- structure ------------------------------------------------------------------


def _structure(r: FileReport, spec: FormSpec, expected_year: int | None) -> None:
    sub = r.submission
    assert sub is not None and sub.scan is not None
    meta = sub.meta
    if meta.spec_version != spec.version:
        r.add(
            rule="template.version",
            sheet=META_SHEET,
            message=(
                f"模板版本 {meta.spec_version or '（空）'} 与当前版本 {spec.version} 不一致，请使用最新下发的模板"
            ),
            expected=spec.version,
            actual=meta.spec_version or None,
        )
    year = sub.year
    if expected_year is not None and year != expected_year:
        r.add(
            rule="template.year",
            sheet=META_SHEET,
            message=f"这是 {year} 年度的模板，本次收集的是 {expected_year} 年度，请使用 {expected_year} 年度模板",
            expected=expected_year,
            actual=year,
        )
    names = [s[0] for s in sub.scan.sheets]
    wanted = [s.name for s in spec.sheets] + [INSTRUCTIONS_SHEET, LISTS_SHEET, META_SHEET]
    missing = [n for n in wanted if n not in names]
    if all(s.name in missing for s in spec.sheets):
        raise _Reject(
            "template.kind_mismatch",
            f"元数据说这是“{spec.title}”，但工作簿中没有它的任何工作表（元数据被改动或文件拼接），无法读取",
        )
    for n in missing:
        r.add(rule="template.sheet_missing", sheet=n, message=f"工作表“{n}”被删除或改名", expected=n)
    for n in names:
        if n not in wanted and n != RESULT_SHEET:  # our annotated copy, sent back with fixes: fine
            r.add(rule="template.sheet_added", sheet=n, message=f"模板中多了工作表“{n}”（其内容不会被读取）", actual=n)
    info = meta.copy
    changed = 0
    for sheet, ref, rc, text in _expected_cells(spec, year or DEFAULT_YEAR, info):
        if sheet in missing:
            continue
        got = sub.values.get(sheet, {}).get(rc)
        got_text = "" if got is None else str(got)
        if got_text == text:
            continue
        if sheet == INSTRUCTIONS_SHEET:
            continue  # not read (see read.py); covered by protection and the fingerprint
        changed += 1
        r.add(
            rule="template.label_changed",
            sheet=sheet,
            cell=ref,
            message=f"锁定内容被修改：应为“{text}”，实为“{got_text}”",
            expected=text,
            actual=got_text,
        )
    if not changed and not missing:
        ours = expected_fingerprint(spec, year or DEFAULT_YEAR, info)
        if ours != meta.fingerprint:
            r.add(
                rule="template.fingerprint",
                sheet=INSTRUCTIONS_SHEET,
                message="模板锁定内容的指纹与下发时不符（填报说明或下拉列表被改动）",
                expected=meta.fingerprint or None,
                actual=ours,
            )
    layout = build_layout(spec, year or DEFAULT_YEAR)
    for sl in layout.sheets:
        name = sl.spec.name
        if name in missing:
            continue
        if not sub.scan.sheet_protected.get(name, False):
            r.add(rule="template.unprotected", sheet=name, message=f"工作表“{name}”的保护被取消，锁定内容可能已被改动")
        present = sub.scan.formula_cells.get(name, set())
        for ref in layout.formula_refs().get(name, ()) if sub.format == "xlsx" else ():
            if ref not in present:
                r.add(
                    rule="template.formula_removed",
                    sheet=name,
                    cell=ref,
                    message="自动计算的公式被删除或覆盖（本工具按填报数据重新计算）",
                )
    if not sub.scan.structure_locked:
        r.add(rule="template.structure_unprotected", message="工作簿结构保护被取消")
    if sub.format != "xlsx":
        unseen = "公式和工作表保护" if sub.format == "xls" else "公式"
        r.add(
            rule="file.format",
            message=f"文件是另存为的 .{sub.format} 格式：数据已按模板位置读取并全部校验，但无法核对{unseen}"
            "是否被改动；请尽量提交 .xlsx",
        )
    elif sub.used_fallback:
        r.add(rule="template.names_missing", message=f"{len(sub.used_fallback)} 个定义名称缺失，已按模板坐标读取")


_SHARED: dict[tuple[int, int], tuple[FormSpec, list[tuple[str, str, tuple[int, int], str]]]] = {}


def _expected_cells(spec: FormSpec, year: int, info: CopyInfo) -> list[tuple[str, str, tuple[int, int], str]]:
    """Locked texts to compare (the hidden lists sheet is not read), positions resolved once per
    (spec, year); only the copy's prefilled cells are resolved per file."""
    key = (id(spec), year)
    hit = _SHARED.get(key)
    texts = copy_texts(spec, year)
    if hit is None or hit[0] is not spec:
        if len(_SHARED) > 256:
            _SHARED.clear()
        cells = [
            (sh, ref, xl_cell_to_rowcol(ref), text)
            for sh, ref, text in texts.shared
            if sh not in (LISTS_SHEET, INSTRUCTIONS_SHEET)
        ]
        hit = _SHARED[key] = (spec, cells)
    own = [(sh, ref, xl_cell_to_rowcol(ref), text) for sh, ref, text in texts.slot_texts(info)]
    return hit[1] + own if own else hit[1]


# ----- values ---------------------------------------------------------------------


def _problem(r: FileReport, p: Problem, loc: Loc, what: str, value: object) -> None:
    r.add(
        rule=f"value.{p.code}",
        severity=Severity(p.severity),
        sheet=loc.sheet,
        cell=loc.cell,
        message=f"{what}：{p.message}",
        actual=value,
    )


def _values(r: FileReport, spec: FormSpec) -> None:
    sub = r.submission
    assert sub is not None and sub.data is not None
    for f in spec.fields:
        if f.type in NUMERIC_TYPES:
            raw = sub.data.fields.get(f.id)
            amount = parse_amount(raw, decimals=0 if f.type is ValueType.COUNT else 2)
            for p in amount.problems:
                _problem(r, p, sub.fields[f.id], f.label, raw)
    for t in spec.tables:
        for i, row in enumerate(sub.data.tables.get(t.id, [])):
            for col in t.columns:
                if col.type in NUMERIC_TYPES:
                    amount = parse_amount(row.get(col.id), decimals=0 if col.type is ValueType.COUNT else 2)
                    for p in amount.problems:
                        _problem(
                            r,
                            p,
                            sub.cell(t.id, i, col.id),
                            f"{t.label}第 {sub.rows[t.id][i] + 1} 行{col.label}",
                            row.get(col.id),
                        )
    rows = sub.data.tables.get("indicators", [])
    r.targets = [_target(r, sub, i, row) for i, row in enumerate(rows)]


def _target(r: FileReport, sub: Submission, i: int, row: dict[str, Any]) -> Target:
    """One indicator row's 符号 / 数值 / 单位 cells → a target, with problems located."""
    value = row.get("value")
    target = _target_of(row.get("op"), value, row.get("unit"))
    if target.problems:
        name = str(row.get("level3") or "").strip() or f"第 {sub.rows['indicators'][i] + 1} 行"
        value_loc = sub.cell("indicators", i, "value")
        if any(n.code in BLANKED and (n.sheet, n.cell) == (value_loc.sheet, value_loc.cell) for n in sub.notes):
            return target  # the reader reported this cell already (a date, NaN): once is enough
        for p in target.problems:
            # point at the cell the person must change: a missing operator is fixed in 符号
            column = "op" if p.code == "no_operator" and value is not None and not isinstance(value, str) else "value"
            _problem(r, p, sub.cell("indicators", i, column), f"三级指标“{name}”", value)
    return target


@lru_cache(maxsize=65536, typed=True)  # typed: True, 1 and 1.0 are different cells
def _target_of(op_raw: Any, value: Any, unit_raw: Any) -> Target:
    """The pure part of `_target`; the same three cells recur across thousands of forms."""
    op = split_operator(normalise(str(op_raw)))[0] if isinstance(op_raw, str) and op_raw.strip() else None
    if isinstance(op_raw, str) and normalise(op_raw) == QUALITATIVE:
        op = QUALITATIVE
    unit = normalise(str(unit_raw)) if unit_raw is not None else ""
    if value is None and op is None:
        return Target(raw="")  # nothing typed: the schema reports a required 数值
    if op == QUALITATIVE:
        target = Target(raw=str(value or ""), op=QUALITATIVE, text=str(value or "").strip())
        if not target.text:
            target = Target(raw="", op=QUALITATIVE, problems=(Problem("empty", "定性指标未填写目标文字", "error"),))
    elif isinstance(value, str) and (op is None or split_operator(normalise(value))[0]):
        target = parse_target(value)  # the whole target typed or pasted into 数值 (≥95%)
        if unit and not target.unit and target.number is not None:
            target = parse_target(f"{value} {unit}")
        if op and target.op and target.op != op:
            conflict = Problem(
                "op_conflict", f"符号栏是“{op}”，数值栏里写的是“{target.op}”，按数值栏读取，请统一", "warning"
            )
            target = replace(target, problems=(*target.problems, conflict))
    else:
        text = f"{op or ''}{'' if value is None else value} {unit}".strip()
        target = parse_target(text if value is not None else "")
    n = target.number
    if target.unit == "%" and n is not None and 0 < n < 1 and target.op in ("≥", "＞", "＝"):
        hint = Problem(
            "percent_fraction", f"目标值 {n:g}% 小于 1%：如果指的是 {n * 100:g}%，数值栏请填写 {n * 100:g}", "info"
        )
        target = replace(target, problems=(*target.problems, hint))
    return target


# ----- rules ------------------------------------------------------------------------


def _fmt(x: float | None, rule: Rule) -> str:
    return "（空）" if x is None else f"{x:,.{rule.decimals}f}"


def rule_message(o: Outcome) -> str:
    rule = o.rule
    u = rule.unit
    if o.status == "incomplete":
        return f"{rule.title}：数据不完整，无法核对"
    diff = (o.left or 0) - (o.right or 0)
    word = {Op.EQ: "差额", Op.LE: "超出", Op.GE: "不足"}[rule.op]
    shown = -diff if rule.op is Op.GE else diff
    return (
        f"{rule.title}：{rule.left_label} {_fmt(o.left, rule)} {u}，{rule.right_label} "
        f"{_fmt(o.right, rule)} {u}，{word} {_fmt(shown, rule)} {u}"
    )


def _term_loc(
    sub: Submission, spec: FormSpec, t: Term, row: int | None, derived: dict[str, Derived], standards: list[UnitCost]
) -> Loc | None:
    if t.agg == "row" and t.table == "unit_costs" and row is not None:
        return sub.cell("indicators", standards[row].row, "value")  # the standard's own cell
    if t.agg == "row" and t.table and row is not None:
        return sub.cell(t.table, row, t.column)
    if t.agg == "sum" and t.table:
        assert sub.scan is not None
        ref = parse_ref(sub.scan.names.get(total_name(t.table, t.column), ""))
        if ref:
            return Loc(ref[0], xl_rowcol_to_cell(ref[1], ref[2]))
        pos = build_layout(spec, sub.year or DEFAULT_YEAR).tables[t.table]  # no defined names (.xls, .ods)
        if pos.total_row is not None:
            return Loc(pos.sheet, xl_rowcol_to_cell(pos.total_row, pos.col(t.column)))
        return None
    if t.ref in sub.fields:
        return sub.fields[t.ref]
    d = derived.get(t.ref)
    where = DERIVED_LOCATION.get(t.ref, "")
    if d is not None and d.row is not None and where == "indicators":
        return sub.cell("indicators", d.row, "value")
    return sub.fields.get(where)


def _rules(r: FileReport, spec: FormSpec) -> None:
    sub = r.submission
    assert sub is not None and sub.data is not None
    fields, tables = numeric_view(spec, sub.data)
    derived = derive(spec.kind, dict(sub.data.fields), {k: list(v) for k, v in sub.data.tables.items()}, r.targets)
    values: dict[str, float | None] = {**fields, **{k: d.value for k, d in derived.items()}}
    standards = unit_costs(sub.data.tables.get("indicators", []), r.targets) if spec.kind == "project" else []
    tables = {**tables, "unit_costs": [{"expected": u.expected, "component": u.component} for u in standards]}
    for rule in rules_for(spec.kind):
        found = evaluate(rule, values, tables)
        if not found:  # row rules on an empty table: say it was looked at
            r.outcomes.append((Outcome(rule=rule, row=None, left=None, right=None, status="skip"), None))
        for o in found:
            loc = None
            for t in rule.left + rule.right:
                loc = _term_loc(sub, spec, t, o.row, derived, standards)
                if loc:
                    break
            r.outcomes.append((o, loc))
            if o.status not in ("fail", "incomplete"):
                continue
            message = rule_message(o)
            if rule.table == "unit_costs" and o.row is not None:
                std, qty, cost = standards[o.row].names
                message += f"（“{std}”×“{qty}”，对照“{cost}”）"
            r.add(
                rule=rule.id,
                severity=rule.severity,
                sheet=loc.sheet if loc else "",
                cell=loc.cell if loc else "",
                message=message,
                expected=o.right,
                actual=o.left,
            )
    _coverage(r, spec)


def _coverage(r: FileReport, spec: FormSpec) -> None:
    """Each 一级 of the frame needs at least one indicator with a name and a target."""
    sub = r.submission
    assert sub is not None and sub.data is not None
    rows = sub.data.tables.get("indicators", [])
    frame = FRAMES[spec.frame]
    if sub.columns[("indicators", "level1")][0] not in sub.values:
        return  # the sheet is gone: reported once as template.sheet_missing
    first = sub.cell("indicators", 0, "level1") if rows else Loc(*_first_indicator_cell(sub))
    for level1 in frame.level1():
        idx = [i for i, row in enumerate(rows) if row.get("level1") == level1]
        usable = [i for i in idx if rows[i].get("level3") and (r.targets[i].number is not None or r.targets[i].text)]
        if not usable:
            loc = sub.cell("indicators", idx[0], "level3") if idx else first
            r.add(
                rule=f"{spec.kind}.indicators.level1_missing",
                sheet=loc.sheet,
                cell=loc.cell,
                message=f"缺少有效的“{level1}”（至少填写一条三级指标及目标值）",
                expected=level1,
            )


def _first_indicator_cell(sub: Submission) -> tuple[str, str]:
    sheet, first, col = sub.columns[("indicators", "level1")]
    return sheet, xl_rowcol_to_cell(first, col)


def _structure_values_and_rules(reports: list[FileReport], year: int | None) -> None:
    for r in reports:
        if r.status == "rejected" or r.submission is None or r.kind is None:
            continue
        try:
            spec = get_spec(r.kind)
            _structure(r, spec, year)
            _input_hygiene(r, spec)
            _values(r, spec)
            _rules(r, spec)
        except _Reject as rej:
            r.findings.clear()
            r.status = "rejected"
            r.add(rule=rej.rule, severity=Severity.ERROR, message=rej.message)
        except Exception as exc:  # a file we cannot make sense of must not stop the others
            _internal_error(r, exc)


class _Reject(Exception):
    """One clear error instead of a cascade of findings."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def _internal_error(r: FileReport, exc: Exception) -> None:
    r.status = "rejected"
    r.add(
        rule="file.internal_error",
        message=f"处理此文件时出错（{type(exc).__name__}: {str(exc)[:200]}），请将文件反馈给财政部门",
    )


def _input_cells(sub: Submission, spec: FormSpec) -> dict[str, set[tuple[int, int]]]:
    inputs: dict[str, set[tuple[int, int]]] = {}
    for loc in sub.fields.values():
        inputs.setdefault(loc.sheet, set()).add(xl_cell_to_rowcol(loc.cell))
    for (tid, _cid), (sheet, first, col) in sub.columns.items():
        for i in range(spec.table(tid).capacity):
            inputs.setdefault(sheet, set()).add((first + i, col))
    return inputs


def trusted_modified(modified: str, now: datetime | None = None) -> tuple[str, str]:
    """The saved-at time from a file's metadata, if it can decide which submission is newer:
    ("2024-03-01T08:00:00Z", "") when usable, ("", why not) when it lies in the future or
    at or before perfxl's own fixed stamp (never re-saved, or forged), ("", "") when absent."""
    text = modified.strip()
    if not text:
        return "", ""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "", f"文件元数据中的修改时间“{text[:40]}”无法识别"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if when > now + timedelta(days=1):
        return "", f"文件元数据中的修改时间（{text[:40]}）晚于当前时间，不可信"
    if when <= FIXED_CREATED.replace(tzinfo=UTC):
        if when == FIXED_CREATED.replace(tzinfo=UTC):
            return "", ""  # perfxl's own stamp: written by perfxl, never re-saved; not a finding
        return "", f"文件元数据中的修改时间（{text[:40]}）早于模板生成时间，不可信"
    return text, ""


BLANKED = frozenset({"value.invalid_number", "value.date"})  # notes on cells the reader then left blank


def _input_hygiene(r: FileReport, spec: FormSpec) -> None:
    """What hostile or hand-edited copies do to the input area."""
    sub = r.submission
    assert sub is not None and sub.scan is not None
    if sub.has_macros:
        r.add(rule="file.macros", message="文件含有宏（VBA 代码）：宏不会被执行，请用下发的 .xlsx 模板填报")
    _modified, untrusted = trusted_modified(sub.scan.modified)
    if untrusted:
        r.add(rule="file.untrusted_time", message=f"{untrusted}；汇总时按文件时间判断哪份提交较新")
    for note in sub.notes:
        r.add(rule=note.code, sheet=note.sheet, cell=note.cell, message=note.message, actual=note.actual)
    layout = build_layout(spec, sub.year or DEFAULT_YEAR)
    designed = layout.merges()
    odd_merges = [
        (sheet, rng) for sheet, ranges in sub.merged.items() for rng in ranges if (sheet, *rng) not in designed
    ]
    odd_formulas = {
        sheet: cells.difference(layout.formula_refs().get(sheet, ())) for sheet, cells in sub.scan.formula_cells.items()
    }
    if not odd_merges and not any(odd_formulas.values()):
        inputs: dict[str, set[tuple[int, int]]] = {}
    else:
        inputs = _input_cells(sub, spec)
    for sheet, (r0, c0, r1, c1) in odd_merges:
        hit = sorted(rc for rc in inputs.get(sheet, set()) if r0 <= rc[0] <= r1 and c0 <= rc[1] <= c1)
        if len(hit) > 1 or (hit and (r1 > r0 or c1 > c0)):
            r.add(
                rule="template.merged_inputs",
                sheet=sheet,
                cell=xl_rowcol_to_cell(*hit[0]),
                message=f"填报区域被合并（{xl_rowcol_to_cell(r0, c0)}:{xl_rowcol_to_cell(r1, c1)}），"
                "只读取左上角单元格",
            )
    for sheet, odd in odd_formulas.items():
        for ref in sorted(odd, key=xl_cell_to_rowcol):
            if xl_cell_to_rowcol(ref) in inputs.get(sheet, set()):
                r.add(
                    rule="value.formula_in_input",
                    sheet=sheet,
                    cell=ref,
                    message="填报格中是公式而不是数据，按其计算结果读取；请直接填写数值或文字",
                )
    for sl in layout.sheets:
        last = sl.last_row
        extra = sorted({rc for rc in sub.values.get(sl.spec.name, {}) if rc[0] > last})
        unread = sub.unread_rows.get(sl.spec.name, 0)  # past the row limit: counted, not read
        if extra or unread:
            tables = [b.table for b in sl.spec.blocks if isinstance(b, TableBlock)]
            what = f"“{spec.table(tables[-1]).label}”表格之后" if tables else "表格之外"
            rows = len({rc[0] for rc in extra}) + unread
            r.add(
                rule="template.rows_beyond_capacity",
                sheet=sl.spec.name,
                cell=xl_rowcol_to_cell(*extra[0]) if extra else "",
                message=f"{what}还有 {rows:,} 行内容，超出模板范围的行不会被读取，请精简或联系财政部门",
            )


# ----- schemas (one pass per table kind across all files) -----------------------------

CHECK_TEXT = {  # schema check → the end of its message (the finding id is schema.<check>)
    "required": "必填项未填写", "too_long": "内容超过长度上限", "choice": "不是下拉列表中的选项",
    "negative": "不应为负数", "integer": "应为整数", "phone": "电话号码格式不正确",
    "level_pair": "，请按指标框架重新选择",
}  # fmt: skip


def _clean(v: Any, column: str = "") -> Any:
    """What the schema sees: trimmed, half-width text; operators in their stored form."""
    if not isinstance(v, str):
        return v
    return _clean_text(v, column == "op")


@lru_cache(maxsize=65536)
def _clean_text(v: str, operator: bool) -> str:
    """Cached: names, operators and units repeat across thousands of forms."""
    v = normalise(v)
    if operator and v != QUALITATIVE:
        op, rest = split_operator(v)
        return op if op and not rest else v
    return v


def _schemas(reports: list[FileReport]) -> None:
    live = [r for r in reports if r.status != "rejected" and r.submission and r.submission.data and r.kind]
    for kind in ("dept", "project"):
        group = [r for r in live if r.kind == kind]
        if not group:
            continue
        try:
            _schema_group(group, get_spec(kind))
        except Exception:
            for r in group:  # find the file the vectorised pass choked on
                try:
                    _schema_group([r], get_spec(kind))
                except Exception as exc:
                    _internal_error(r, exc)


def _schema_group(group: list[FileReport], spec: FormSpec) -> None:
    labels = {f.id: f.label for f in spec.fields}
    cols = [f.id for f in spec.fields if not f.prefill]
    records = [{c: _clean(r.submission.data.fields.get(c)) for c in cols} for r in group]  # type: ignore[union-attr]
    limits = {f.id: f.max_length for f in spec.fields}
    for fail in validate(fields_schema(spec), records, cols):
        _schema_finding(
            group[fail.key],
            fail,
            labels.get(fail.column, fail.column),
            group[fail.key].submission.fields[fail.column],  # type: ignore[union-attr]
            limits.get(fail.column),
        )
    for t in spec.tables:
        keys: list[tuple[FileReport, int]] = []
        recs: list[dict[str, Any]] = []
        for r in group:
            for i, row in enumerate(r.submission.data.tables.get(t.id, [])):  # type: ignore[union-attr]
                keys.append((r, i))
                recs.append({c.id: _clean(row.get(c.id), c.id) for c in t.columns})
        tcols = [c.id for c in t.columns]
        for fail in validate(table_schema(spec, t), recs, tcols):
            r, i = keys[fail.key]
            sub = r.submission
            assert sub is not None
            label = f"{t.label}第 {sub.rows[t.id][i] + 1} 行{t.column(fail.column).label}"
            if fail.check == "level_pair":
                row = recs[fail.key]
                label = f"{t.label}第 {sub.rows[t.id][i] + 1} 行二级指标“{row['level2']}”"
                fail = Failure(fail.key, fail.column, fail.check, None)
                label += f"不属于一级指标“{row['level1']}”"
            _schema_finding(r, fail, label, sub.cell(t.id, i, fail.column), t.column(fail.column).max_length)


def _schema_finding(r: FileReport, fail: Failure, label: str, loc: Loc, limit: int | None = None) -> None:
    sub = r.submission
    if (
        fail.check == "required"
        and sub is not None
        and any(n.code in BLANKED and (n.sheet, n.cell) == (loc.sheet, loc.cell) for n in sub.notes)
    ):
        return  # reported once, as the invalid number it was
    rule, text = f"schema.{fail.check}", CHECK_TEXT.get(fail.check, "不符合要求")
    value = None if fail.check == "required" else fail.value
    shown = f"（“{value}”）" if value is not None and fail.check not in ("too_long",) else ""
    if fail.check == "too_long" and isinstance(value, str):
        shown = f"（上限 {limit} 字）" if limit else ""
    r.add(rule=rule, sheet=loc.sheet, cell=loc.cell, message=f"{label}{text}{shown}", actual=value)
