"""Check submissions: structure, values, schemas, rules → located findings.

The engine attaches file, sheet and cell to what readers, parsers, schemas and
rules report; none of those know about each other. Every input file comes out
with a status, whatever it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xlsxwriter.utility import xl_cell_to_rowcol

from perfxl.checks.base import STATUS_LABEL, CheckReport, FileReport, Reject, Status, internal_error
from perfxl.checks.hygiene import check_hygiene, trusted_modified
from perfxl.checks.library import check_library
from perfxl.checks.rules import check_rules, rule_message
from perfxl.checks.schemas import check_schemas
from perfxl.checks.structure import check_structure
from perfxl.checks.values import check_values
from perfxl.errors import os_reason
from perfxl.findings import Finding, Severity
from perfxl.forms import get_spec
from perfxl.library import Library, load_library
from perfxl.read import read_submission
from perfxl.review import keyed, rule_numbers

__all__ = ["STATUS_LABEL", "CheckReport", "FileReport", "Status", "check_paths", "rule_message", "trusted_modified"]


def check_paths(
    paths: Sequence[str | Path], *, year: int | None = None, indicators: str | Path | None = None
) -> CheckReport:
    """Check files in this process (check_files runs the same in worker processes, crash-proof).
    `indicators`: the common-indicator library (default: the packaged one)."""
    library = load_library(Path(indicators) if indicators else None)
    reports = [_read(Path(p)) for p in paths]
    _structure_values_and_rules(reports, year, library)
    check_schemas(reports)
    for r in reports:
        r.findings.sort(key=_order)
        sub = r.submission if r.submission is not None and r.submission.data is not None else None
        r.findings = keyed(r.findings, (sub.year if sub else None) or year, r.kind or "", r.entity or r.path.name, sub)
        if r.status != "rejected":
            r.status = "findings" if r.findings else "ok"
        if r.submission is not None:
            r.submission.slim()
        if sub is not None and r.status != "rejected" and r.kind:  # as a merge's join would number them
            r.numbers = rule_numbers(r.outcomes, sub, sub.year or year, r.kind, r.entity)
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
        internal_error(report, exc)
        return report
    report.submission, report.sha256, report.kind = sub, sub.sha256, sub.kind
    if sub.problem:
        report.status = "rejected"
        report.add(rule=sub.problem_code, message=sub.problem)
        return report
    assert sub.data is not None and sub.kind is not None
    spec = get_spec(sub.kind)
    entity_field = spec.fields[0].id if spec.fields[0].prefill == "entity" else ""
    name = sub.data.fields.get(entity_field)
    report.entity = str(name).strip() if name else sub.meta.issued_for or path.stem
    return report


def _structure_values_and_rules(reports: list[FileReport], year: int | None, library: Library) -> None:
    for r in reports:
        if r.status == "rejected" or r.submission is None or r.kind is None:
            continue
        try:
            spec = get_spec(r.kind)
            check_structure(r, spec, year)
            check_hygiene(r, spec)
            check_values(r, spec)
            check_rules(r, spec)
            check_library(r, spec, library)
        except Reject as rej:
            r.findings.clear()
            r.status = "rejected"
            r.add(rule=rej.rule, severity=Severity.ERROR, message=rej.message)
        except Exception as exc:  # a file we cannot make sense of must not stop the others
            internal_error(r, exc)
