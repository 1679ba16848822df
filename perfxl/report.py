"""Render check results: a Chinese text report and the JSON findings contract."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from perfxl.check import STATUS_LABEL, CheckReport
from perfxl.findings import Severity
from perfxl.forms import KIND_LABELS
from perfxl.merging import ROSTER_LABEL, MergeResult
from perfxl.review import Review

# C0/C1 controls (NUL, BEL, ESC sequences that retitle or recolour a terminal, line breaks
# that would forge report lines) and bidirectional overrides that reorder what is shown
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """Text from a submission (file names included), safe to show in a terminal: every
    control character becomes a visible escape such as \\x1b."""
    s = str(text)
    if not _UNPRINTABLE.search(s):
        return s
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", s
    )


def _dumps(obj: dict[str, Any]) -> str:
    """JSON that every parser accepts (a sum of two huge amounts can overflow to infinity,
    which json.dumps would write as the non-standard Infinity), one record per line: readable
    and greppable, and written by json's C encoder (indent= would use the pure-Python one,
    several times slower on a county's tens of thousands of records)."""
    try:
        return _records(obj)
    except ValueError:
        return _records(_finite(obj))


# json.dumps(v, ensure_ascii=False, default=str, allow_nan=False), its encoder made once: a county's
# JSON has tens of thousands of records, and json.dumps with arguments makes an encoder for each
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False)


def _records(obj: dict[str, Any]) -> str:
    one = _ENCODER.encode

    parts = []
    for k, v in obj.items():
        if isinstance(v, list) and v:
            body = ",\n  ".join(one(x) for x in v)
            parts.append(f" {one(k)}: [\n  {body}\n ]")
        else:
            parts.append(f" {one(k)}: {one(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def text_report(report: CheckReport) -> str:
    lines: list[str] = []
    for r in report.files:
        counts = {s: sum(f.severity is s for f in r.findings) for s in Severity}
        head = f"{printable(r.path)}（{KIND_LABELS.get(r.kind or '', '未知表单')}"
        head += f"，{printable(r.entity)}）" if r.entity else "）"
        if r.findings:
            parts = "，".join(f"{s.label} {counts[s]}" for s in Severity if counts[s])
            head += f"：{STATUS_LABEL[r.status]}，{len(r.findings)} 个问题（{parts}）"
        else:
            head += "：通过，未发现问题"
        lines.append(head)
        for f in r.findings:
            where = f"{f.sheet}!{f.cell}" if f.cell else (f.sheet or "（整个文件）")
            lines.append(f"  {f.severity.label}  {printable(where)}  {f.rule}  {printable(f.message)}")
    total = len(report.files)
    bad = sum(r.status == "rejected" for r in report.files)
    ok = sum(r.status == "ok" for r in report.files)
    lines.append(
        f"共 {total} 个文件：通过 {ok}，有问题 {total - ok - bad}，无法读取 {bad}；"
        f"错误 {report.count(Severity.ERROR)}，警告 {report.count(Severity.WARNING)}，"
        f"提示 {report.count(Severity.INFO)}。"
    )
    return "\n".join(lines) + "\n"


def json_report(report: CheckReport) -> str:
    files: list[dict[str, Any]] = []
    for r in report.files:
        files.append(
            {
                "file": str(r.path),
                "status": r.status,
                "status_label": STATUS_LABEL[r.status],
                "form": r.kind or "",
                "entity": r.entity,
                "sha256": r.sha256,
                "findings": [f.to_dict() for f in r.findings],
            }
        )
    out = {
        "summary": {
            "files": len(report.files),
            "ok": sum(r.status == "ok" for r in report.files),
            "with_findings": sum(r.status == "findings" for r in report.files),
            "rejected": sum(r.status == "rejected" for r in report.files),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
        },
        "files": files,
        "findings": [f.to_dict() for f in report.findings],
    }
    return _dumps(out)


def merge_json(result: MergeResult) -> str:
    """The merge as data: roster (every input accounted for), cross-checks, findings."""
    out = {
        "summary": {s: result.count(s) for s in ROSTER_LABEL}
        | {"inputs": result.inputs, "round": result.round, "round_date": result.round_date},
        "roster": [
            {
                "status": r.status,
                "status_label": ROSTER_LABEL[r.status],
                "form": r.kind,
                "entity": r.entity,
                "competent": r.competent,
                "file": str(r.path) if r.path else "",
                "reason": r.reason,
                "sha256": r.report.sha256 if r.report else "",
            }
            for r in result.roster
        ],
        "cross_checks": [
            {
                "rule": c.rule_id,
                "title": c.title,
                "form": c.kind,
                "entity": c.entity,
                "status": c.status,
                "severity": c.severity.value,
                "left": c.left,
                "right": c.right,
                "difference": c.diff,
                "detail": c.detail,
                "file": str(c.path) if c.path else "",
                "sheet": c.loc.sheet if c.loc else "",
                "cell": c.loc.cell if c.loc else "",
                "key": c.key,
                "review": _review(result, c.key),  # of a check that passes: only notes written beside it
            }
            for c in result.checks
        ],
        "findings": [f.to_dict() | {"review": _review(result, f.key)} for f in result.findings],
        # problems of the previous round that are gone now, with what auditors wrote about them
        "resolved": [
            {"key": past.key, "row": {k: v for k, v in past.row.items() if k}, "review": _review_of(r)}
            for past, r in result.gone
        ],
    }
    return _dumps(out)


def _review(result: MergeResult, key: str) -> dict[str, Any] | None:
    r = result.reviews.get(key)
    return _review_of(r) if r is not None else None


def _review_of(r: Review) -> dict[str, Any]:
    """A problem's review state as data: the same notes and statuses as the workbook shows."""
    return {
        "status": r.status,
        "first_seen": r.first_seen,
        "first_round": r.first_round,
        "checked": r.notes.checked,
        "advice": r.notes.advice,
        "disposition": r.notes.disposition,
    }
