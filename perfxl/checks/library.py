"""The district's common indicators (perfxl/library.py) on one form: each required one
present, each target as the standard says."""

from __future__ import annotations

from perfxl.checks.base import FileReport
from perfxl.forms.model import FormSpec
from perfxl.library import Library, by_name, deviates, name_key


def check_library(r: FileReport, spec: FormSpec, library: Library) -> None:
    sub = r.submission
    assert sub is not None and sub.data is not None
    commons = library.for_kind(spec.kind)
    if not commons:
        return
    rows = sub.data.tables.get("indicators", [])
    if sub.columns[("indicators", "level3")][0] not in sub.values:
        return  # the sheet is gone: reported once as template.sheet_missing
    where = by_name(rows)
    first = sub.cell("indicators", 0, "level3")
    for c in commons:
        found = where.get(name_key(c.level3))
        if found is None:
            if c.required:
                r.add(
                    rule="library.missing",
                    sheet=first.sheet,
                    cell=first.cell,
                    message=f"缺少{c.tier}共性指标“{c.level3}”（{c.level1}/{c.level2}，标准 {c.shown}）",
                    expected=c.shown,
                )
            continue
        target = r.targets[found] if found < len(r.targets) else None
        if target is not None and deviates(target, c):
            loc = sub.cell("indicators", found, "value")
            typed = target.raw or target.text
            r.add(
                rule="library.deviation",
                sheet=loc.sheet,
                cell=loc.cell,
                message=f"共性指标“{c.level3}”的目标 {typed} 与{c.tier}标准 {c.shown} 不一致",
                expected=c.shown,
                actual=typed,
            )
