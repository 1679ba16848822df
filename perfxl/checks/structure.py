"""Is this our template, unchanged: version, year, sheets, locked texts and their
fingerprint, protection, formulas, defined names."""

from __future__ import annotations

from xlsxwriter.utility import xl_cell_to_rowcol

from perfxl.checks.base import FileReport, Reject
from perfxl.forms.model import FormSpec
from perfxl.layout import build_layout
from perfxl.package import (
    DEFAULT_YEAR,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    META_SHEET,
    RESULT_SHEET,
    CopyInfo,
    copy_texts,
    expected_fingerprint,
)


def check_structure(r: FileReport, spec: FormSpec, expected_year: int | None) -> None:
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
        raise Reject(
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
