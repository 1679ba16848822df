"""What each sheet of the consolidated workbook shows, in the order users read them.

The mechanics of writing (fast rows, links, table dressing, CSV spill past Excel's row limit,
parallel pieces) are perfxl/consolidated.py; here is only the content: which columns, which
rows, in which order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl import __version__
from perfxl.check import FileReport
from perfxl.consolidated import FONT, STATUS_TEXT, Col, _Writer
from perfxl.findings import Finding, Severity
from perfxl.forms import KIND_LABELS, get_spec
from perfxl.forms.model import NUMERIC_TYPES, ValueType
from perfxl.merging import ROSTER_LABEL, CrossCheck, MergeResult, RosterRow
from perfxl.package import Meta
from perfxl.pieces import Parts
from perfxl.read import Loc
from perfxl.review import round_label, typed_target


def write_sheets(w: _Writer, result: MergeResult) -> None:
    """Every sheet; the largest first, so that forked workers render them (when the merge runs
    with --jobs and they are large) while this process writes the others."""
    w.warm_links(r.path for r in result.roster if r.path)
    _indicators(w, result)
    _checks(w, result)
    _findings(w, result)
    w.read_back_task()
    w.launch()
    _roster(w, result)
    _dept(w, result)
    _tasks(w, result)
    _projects(w, result)
    _common(w, result)
    _changes(w, result)
    _overview(w, result)
    w.finish()
    _about(w, result)


OPEN_STATES = ("新发现", "仍存在", "仍存在（数值有变化）")
SETTLED = ("误报", "不适用", "已说明可接受")  # 处置 that close a problem without a resubmission


def _overview(w: _Writer, m: MergeResult) -> None:
    """One row per 主管部门: what was expected and received, money against money, problems open
    and resolved; two native charts (open problems by department, submission status)."""
    group = {r.entity: (r.competent or r.entity) for r in m.roster if r.entity}
    depts: dict[str, dict[str, Any]] = {}

    blank = {"expected": 0, "accepted": 0, "missing": 0, "exp": None, "projects": 0.0}
    blank |= {"errors": 0, "warnings": 0, "open": 0, "done": 0}

    def at(name: str) -> dict[str, Any]:
        return depts.setdefault(name or "（未识别）", dict(blank))

    for r in m.roster:
        if r.status not in ("accepted", "missing"):
            continue
        d = at(group.get(r.entity, r.entity))
        d["expected"] += r.catalog is not None
        d["accepted"] += r.status == "accepted"
        d["missing"] += r.status == "missing"
        sub = r.report.submission if r.report else None
        if r.status == "accepted" and sub is not None and sub.data is not None:
            fields = sub.data.fields
            amount = fields.get("exp_project") if r.kind == "dept" else fields.get("total")
            if isinstance(amount, (int, float)) and not isinstance(amount, bool):
                if r.kind == "dept":
                    d["exp"] = amount
                else:
                    d["projects"] += amount
    for f in m.findings:
        d = at(group.get(f.entity, f.entity))
        d["errors"] += f.severity.value == "error"
        d["warnings"] += f.severity.value == "warning"
        state = m.reviews.get(f.key)
        if state is not None:
            settled = state.notes.disposition in SETTLED
            d["open"] += state.status in OPEN_STATES and not settled
            d["done"] += settled
    for past, _state in m.gone:
        at(group.get(str(past.row.get("对象") or ""), str(past.row.get("对象") or "")))["done"] += 1
    cols = [
        Col("主管部门", 30),
        Col("应交", 7, "int"),
        Col("已接收", 7, "int"),
        Col("未提交", 7, "int"),
        Col("项目支出（万元）", 15, "money"),
        Col("项目表合计（万元）", 15, "money"),
        Col("错误", 7, "int"),
        Col("警告", 7, "int"),
        Col("未解决问题", 10, "int"),
        Col("已解决", 8, "int"),
        Col("解决比例", 9),
    ]
    rows = []
    for name, d in sorted(depts.items(), key=lambda kv: (-kv[1]["open"], kv[0])):
        total = d["open"] + d["done"]
        share = f"{d['done'] / total:.0%}" if total else ""
        rows.append([name, d["expected"], d["accepted"], d["missing"], d["exp"], d["projects"] or None,
                     d["errors"], d["warnings"], d["open"], d["done"], share])  # fmt: skip
    ws = w.table("概览", cols, rows)
    n = len(rows)
    if not n:
        return
    status = [(label, m.count(s)) for s, label in ROSTER_LABEL.items() if m.count(s)]
    top = n + 3
    ws.write_row(top, 0, ["提交情况", "个数"], w.f["header"])
    for i, (label, count) in enumerate(status, start=1):
        ws.write_string(top + i, 0, label, w.f["text"])
        ws.write_number(top + i, 1, count, w.f["int"])
    bars = w.wb.add_chart({"type": "bar"})
    bars.add_series({"name": "未解决问题", "categories": ["概览", 1, 0, n, 0], "values": ["概览", 1, 8, n, 8],
                     "fill": {"color": "#C00000"}})  # fmt: skip
    bars.set_title({"name": "各主管部门未解决问题", "name_font": {"name": FONT, "size": 12}})
    bars.set_legend({"none": True})
    bars.set_y_axis({"reverse": True, "num_font": {"name": FONT}})
    bars.set_size({"width": 520, "height": max(240, 28 * n + 80)})
    ws.insert_chart(top, 5, bars)  # below the table, right of the pie: prints on the same pages
    pie = w.wb.add_chart({"type": "pie"})
    pie.add_series({"name": "提交情况", "categories": ["概览", top + 1, 0, top + len(status), 0],
                    "values": ["概览", top + 1, 1, top + len(status), 1], "data_labels": {"value": True}})  # fmt: skip
    pie.set_title({"name": "提交情况", "name_font": {"name": FONT, "size": 12}})
    pie.set_size({"width": 380, "height": 280})
    ws.insert_chart(top + len(status) + 2, 0, pie)  # under the status counts, clear of the bar chart


def _about(w: _Writer, m: MergeResult) -> None:
    ws = w.sheets["说明"]
    ws.activate()
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 90)
    ws.set_row(0, 30)  # the 16-point title needs the height (it was clipped)
    title = "预算绩效目标汇总" + (f"（{m.year} 年度）" if m.year else "")
    ws.write_string(0, 0, title, w.f["title"])
    stats = [
        (
            "输入文件",
            f"{m.inputs} 个：已接收 {m.count('accepted')}，被替代 {m.count('superseded')}，重复 "
            f"{m.count('duplicate')}，无法读取 {m.count('rejected')}，跳过 {m.count('skipped')}；"
            f"目录中未提交 {m.count('missing')} 项",
        ),
        ("交叉校验", f"{len(m.checks)} 项，其中不通过 {sum(c.status == 'fail' for c in m.checks)} 项"),
        (
            "问题",
            f"{len(m.findings)} 条：错误 {sum(f.severity.value == 'error' for f in m.findings)}，"
            f"警告 {sum(f.severity.value == 'warning' for f in m.findings)}，"
            f"提示 {sum(f.severity.value == 'info' for f in m.findings)}",
        ),
        (
            "概览",
            "每个主管部门一行：应交、已接收、未提交，项目支出与项目表合计，错误、警告、未解决和已解决的问题；两张图。",
        ),
        ("提交情况", "目录中每一项和每个输入文件一行：已接收、被替代、重复、无法读取、跳过、未提交。"),
        ("部门整体 / 项目", "每个已接收的部门、项目一行，金额单位万元。"),
        ("年度主要任务", "各部门年度主要任务逐行列出。"),
        ("绩效指标", "两类表的全部绩效指标：目标值原文，以及解析出的符号、数值、单位。"),
        (
            "交叉校验",
            "每条规则对每个对象的校验结果（通过的也列出），含左值、右值、差额和来源单元格链接；"
            "“核实情况”“处理意见”“处置”三列（黄色）留给审核人员填写，重新汇总时按问题编号保留。",
        ),
        (
            "问题清单",
            "全部问题，可按严重程度、文件筛选，点击单元格链接打开原文件；状态：新发现、仍存在、"
            "仍存在（数值有变化）、已整改（重新提交后消失）、未复核（消失但未重新提交），已消失的问题连同审核意见保留。",
        ),
        ("审核轮次", round_label(m.round, m.round_date)),
        *([("上一轮", m.previous_problem)] if m.previous_problem else []),
        *(
            [("共性指标库", f"{m.library.name}（{len(m.library.rows)} 条，SHA-256 {m.library.sha256}）")]
            if m.library
            else []
        ),
        ("生成工具", f"perfxl {__version__}"),
        *[("超出行数上限", note) for note in w.notes],
    ]
    for r, (k, v) in enumerate(stats, start=2):
        ws.write_string(r, 0, k, w.f["header"])
        ws.write_string(r, 1, v, w.f["wrap"])
    w.keep_read_back("说明", [[title, ""], ["", ""], *stats])


def _roster(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("序号", 6, "int"),
        Col("类别", 10),
        Col("目录序号", 8),
        Col("名称", 34),
        Col("主管部门", 28),
        Col("状态", 14),
        Col("说明", 40),
        Col("文件", 40, "link"),
        Col("SHA-256", 20),
        Col("模板版本", 10),
        Col("年度", 8),
        Col("错误", 6, "int"),
        Col("警告", 6, "int"),
        Col("提示", 6, "int"),
    ]
    rows = []
    for i, r in enumerate(m.roster, start=1):
        rep = r.report
        meta = rep.submission.meta if rep and rep.submission else Meta()
        if rep is not None:
            n = Counter(f.severity for f in rep.findings)
            counts: list[int | None] = [n[Severity.ERROR], n[Severity.WARNING], n[Severity.INFO]]
        else:
            counts = [None, None, None]
        rows.append(
            [
                i,
                KIND_LABELS.get(r.kind, r.kind),
                r.catalog.seq if r.catalog else "",
                r.entity,
                r.competent,
                ROSTER_LABEL[r.status],
                r.reason,
                w.link(r.path),
                rep.sha256 if rep else "",
                meta.spec_version,
                meta.year,
                *counts,
            ]
        )
    w.table("提交情况", cols, rows, status_col=5)


def _field_cols(kind: str) -> list[tuple[str, Col]]:
    out = []
    for f in get_spec(kind).fields:
        kind_of = "money" if f.type is ValueType.MONEY else "int" if f.type is ValueType.COUNT else "text"
        width = 14 if f.type in NUMERIC_TYPES else 40 if f.type is ValueType.LONGTEXT else 22
        out.append((f.id, Col(f.label + ("（万元）" if f.type is ValueType.MONEY else ""), width, kind_of)))
    return out


def _dept(w: _Writer, m: MergeResult) -> None:
    fcols = _field_cols("dept")
    cols = [
        Col("序号", 6, "int"),
        *[c for _, c in fcols],
        Col("任务行数", 8, "int"),
        Col("指标数", 8, "int"),
        Col("来源文件", 40, "source"),
    ]

    def row(i: int, rep: FileReport) -> Iterator[list[Any]]:
        d = rep.submission.data  # type: ignore[union-attr]
        assert d is not None
        yield [
            i,
            *[d.fields.get(fid) for fid, _ in fcols],
            len(d.tables.get("tasks", [])),
            len(d.tables.get("indicators", [])),
            w.link(rep.path),
        ]

    reports = m.accepted("dept")
    w.table("部门整体", cols, _blocks(w, [(rep, 1, partial(row, i, rep), i) for i, rep in enumerate(reports, 1)]))


def _tasks(w: _Writer, m: MergeResult) -> None:
    t = get_spec("dept").table("tasks")
    cols = [
        Col("部门名称", 30),
        Col("行号", 6, "int"),
        *[
            Col(c.label, 14 if c.type in NUMERIC_TYPES else 26, "money" if c.type is ValueType.MONEY else "text")
            for c in t.columns
        ],
        Col("来源单元格", 40, "source"),
    ]

    def rows(rep: FileReport) -> Iterator[list[Any]]:
        sub = rep.submission
        assert sub is not None and sub.data is not None
        for i, row in enumerate(sub.data.tables.get("tasks", [])):
            yield [
                rep.entity,
                sub.rows["tasks"][i] + 1,
                *[row.get(c.id) for c in t.columns],
                w.link(rep.path, sub.cell("tasks", i, t.columns[0].id)),
            ]

    items = []
    for rep in m.accepted("dept"):
        assert rep.submission is not None and rep.submission.data is not None
        items.append((rep, len(rep.submission.data.tables.get("tasks", [])), partial(rows, rep), ""))
    w.table("年度主要任务", cols, _blocks(w, items))


def _projects(w: _Writer, m: MergeResult) -> None:
    fcols = _field_cols("project")
    cols = [Col("序号", 6, "int"), *[c for _, c in fcols], Col("指标数", 8, "int"), Col("来源文件", 40, "source")]

    def row(i: int, rep: FileReport) -> Iterator[list[Any]]:
        d = rep.submission.data  # type: ignore[union-attr]
        assert d is not None
        yield [i, *[d.fields.get(fid) for fid, _ in fcols], len(d.tables.get("indicators", [])), w.link(rep.path)]

    reports = m.accepted("project")
    w.table("项目", cols, _blocks(w, [(rep, 1, partial(row, i, rep), i) for i, rep in enumerate(reports, 1)]))


def _blocks(
    w: _Writer, items: Sequence[tuple[FileReport, int, Callable[[], Iterator[Sequence[Any]]], object]]
) -> Parts:
    """A table of one piece per submission: (its report, its row count, its rows, whatever else
    its rows show that is not in the report or its place: the roster's names, a sequence number).
    Its rows depend on these and on the row they start at only, which lets the writer reuse what
    an earlier merge made of the same piece (perfxl/blocks.py)."""
    keys = []
    for rep, _n, _make, extra in items:
        link = w.link(rep.path)
        keys.append(f"{rep.sha256}|{rep.kind}|{rep.entity}|{link[1] if link else ''}|{extra}")
    return Parts([(n, make) for _rep, n, make, _extra in items], keys)


def _indicators(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("类别", 10),
        Col("部门或项目名称", 30),
        Col("主管部门", 26),
        Col("行号", 6, "int"),
        Col("一级指标", 12),
        Col("二级指标", 16),
        Col("三级指标", 36),
        Col("目标值（原文）", 16),
        Col("符号", 6),
        Col("数值", 12),
        Col("单位", 10),
        Col("定性目标", 14),
        Col("来源单元格", 40, "source"),
    ]
    accepted = [r for r in m.roster if r.status == "accepted" and r.report and r.report.submission]

    def rows(r: RosterRow) -> Iterator[list[Any]]:
        assert r.report is not None and r.report.submission is not None
        sub = r.report.submission
        assert sub.data is not None
        targets = r.report.targets
        for i, row in enumerate(sub.data.tables.get("indicators", [])):
            t = targets[i] if i < len(targets) else None
            yield [
                KIND_LABELS[r.kind],
                r.entity,
                r.competent,
                sub.rows["indicators"][i] + 1,
                row.get("level1"),
                row.get("level2"),
                row.get("level3"),
                typed_target(row),
                t.op if t else None,
                t.number if t else None,
                t.unit if t else None,
                t.text if t else None,
                w.link(r.path, sub.cell("indicators", i, "value")),
            ]

    items = []
    for r in accepted:
        assert r.report is not None and r.report.submission is not None and r.report.submission.data is not None
        n = len(r.report.submission.data.tables.get("indicators", []))
        items.append((r.report, n, partial(rows, r), f"{r.kind}|{r.entity}|{r.competent}"))
    w.table("绩效指标", cols, _blocks(w, items))


DEVIATES = "※"  # marks a target that departs from the standard in 共性指标对照


def _common(w: _Writer, m: MergeResult) -> None:
    """One row per department, one column per common indicator: each department's target as
    typed, those that depart from the standard marked and highlighted, missing ones too."""
    from perfxl.library import by_name, deviates, load_library, name_key

    library = m.library or load_library()
    commons = library.for_kind("dept")
    cols = [
        Col("部门名称", 30),
        *[Col(f"{c.level3}（标准 {c.shown}）", 14) for c in commons],
        Col("偏离", 6, "int"),
        Col("缺少", 6, "int"),
        Col("来源文件", 40, "source"),
    ]
    rows = []
    for rep in m.accepted("dept"):
        sub = rep.submission
        assert sub is not None and sub.data is not None
        ind = sub.data.tables.get("indicators", [])
        where = by_name(ind)
        cells, off, missing = [], 0, 0
        for c in commons:
            at = where.get(name_key(c.level3))
            if at is None:
                cells.append("（缺）")
                missing += 1
                continue
            typed = typed_target(ind[at]) or "（空）"
            if at < len(rep.targets) and deviates(rep.targets[at], c):
                typed = f"{DEVIATES}{typed}"
                off += 1
            cells.append(typed)
        rows.append([rep.entity, *cells, off, missing, w.link(rep.path)])
    w.table("共性指标对照", cols, rows, header_height=48)  # headers carry the standard: three lines
    ws = w.sheets["共性指标对照"]
    if rows:
        rng = f"B2:{xl_rowcol_to_cell(len(rows), len(commons))}"
        ws.conditional_format(
            rng, {"type": "text", "criteria": "begins with", "value": DEVIATES, "format": w.f["warn"]}
        )
        ws.conditional_format(rng, {"type": "text", "criteria": "begins with", "value": "（缺）", "format": w.f["bad"]})
    ws.freeze_panes(1, 1)


def _review_cells(m: MergeResult, key: str, problem: bool) -> list[Any]:
    """状态, 核实情况, 处理意见, 处置 and 首次发现 / 轮次 of a row, from this round's review (of a
    row that is no problem, only the notes auditors wrote beside it)."""
    r = m.reviews.get(key)
    if r is None:
        return ["", "", "", "", "", ""]
    if not problem:
        return ["", r.notes.checked, r.notes.advice, r.notes.disposition, "", ""]
    return [r.status, r.notes.checked, r.notes.advice, r.notes.disposition, r.first_seen, f"第 {r.first_round} 轮"]


def _checks(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("结果", 10),
        Col("严重程度", 8),
        Col("状态", 12),
        Col("对象", 28),
        Col("说明", 30),
        Col("左值", 14, "money"),
        Col("右值", 14, "money"),
        Col("差额", 14, "money"),
        *NOTE_COLS,
        Col("详情", 50),
        Col("来源", 36, "link"),
        Col("问题编号", 12),
        Col("首次发现", 11),
        Col("轮次", 7),
        Col("类别", 9),
        Col("主管部门", 20),
        Col("规则", 10),
    ]
    order = {"fail": 0, "incomplete": 1, "unchecked": 2, "skip": 3, "pass": 4}
    checks = sorted(m.checks, key=lambda c: (order.get(c.status, 9), -c.severity.rank, c.kind, c.entity, c.rule_id))

    def row(c: CrossCheck) -> list[Any]:
        status, checked, advice, disposition, seen, rnd = _review_cells(m, c.key, c.status in ("fail", "incomplete"))
        return [
            STATUS_TEXT.get(c.status, c.status),
            c.severity.label if c.status == "fail" else "",
            status,
            c.entity,
            c.title,
            c.left,
            c.right,
            c.diff,
            checked,
            advice,
            disposition,
            c.detail,
            w.link(c.path, c.loc),
            c.key,
            seen,
            rnd,
            KIND_LABELS.get(c.kind, c.kind),
            c.competent,
            c.rule_id,
        ]

    def rows(a: int, b: int) -> Iterator[list[Any]]:  # made where the sheet is rendered (a worker, with --jobs)
        return map(row, checks[a:b])

    def kept() -> Iterator[list[Any]]:
        # what read_previous does not skip: rows with a state or notes (_review_cells leaves a
        # check that is no problem and has no review without either)
        return (row(c) for c in checks if c.status in ("fail", "incomplete") or c.key in m.reviews)

    w.table("交叉校验", cols, w.pieces_of(len(checks), rows), status_col=0, read_back=kept)
    w.review_columns("交叉校验", cols, len(checks), print_to="处置")


NOTE_COLS = [Col("核实情况", 24, "note"), Col("处理意见", 24, "note"), Col("处置", 12, "note")]


def _findings(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("序号", 6, "int"),
        Col("严重程度", 8),
        Col("状态", 12),
        Col("对象", 28),
        Col("问题说明", 56),
        *NOTE_COLS,
        Col("期望", 12),
        Col("实际", 12),
        Col("位置", 34, "link"),
        Col("变更", 10, "link"),
        Col("问题编号", 12),
        Col("首次发现", 11),
        Col("轮次", 7),
        Col("类别", 9),
        Col("规则", 10),
    ]
    # each entity's first row in 变更记录 (written later, in m.changes order; row 1 is the header)
    first_change: dict[tuple[str, str], int] = {}
    for n, c in enumerate(m.changes, start=2):
        first_change.setdefault((c.kind, c.entity), n)
    sev = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(m.findings, key=lambda f: (sev[f.severity.value], f.file, f.sheet, f.cell, f.rule))
    count = len(findings) + len(m.gone)

    def rows(a: int, b: int) -> Iterator[list[Any]]:  # made where the sheet is rendered (a worker, with --jobs)
        yield from _finding_rows(w, m, findings[a:b], first_change, start=a + 1)
        gone = len(findings)
        yield from _gone_rows(m, gone, max(a - gone, 0), max(b - gone, 0))

    w.table("问题清单", cols, w.pieces_of(count, rows), status_col=1)
    w.review_columns("问题清单", cols, count, print_to="处置")


def _finding_rows(
    w: _Writer, m: MergeResult, findings: list[Finding], first_change: dict[tuple[str, str], int], start: int = 1
) -> Iterator[list[Any]]:
    paths: dict[str, Path] = {}  # a file's many findings share one Path (hashed for its link)
    for i, f in enumerate(findings, start=start):
        loc = Loc(f.sheet, f.cell) if f.sheet and f.cell else None
        path = (paths.get(f.file) or paths.setdefault(f.file, Path(f.file))) if f.file else None
        status, checked, advice, disposition, seen, rnd = _review_cells(m, f.key, bool(f.key))
        yield (
            [
                i,
                f.severity.label,
                status,
                f.entity,
                f.message,
                checked,
                advice,
                disposition,
                _plain(f.expected),
                _plain(f.actual),
                w.link(path, loc),
                _change_link(first_change.get((f.form, f.entity))),
                f.key,
                seen,
                rnd,
                KIND_LABELS.get(f.form, f.form),
                f.rule,
            ]
        )


def _gone_rows(m: MergeResult, before: int, a: int = 0, b: int | None = None) -> Iterator[list[Any]]:
    """Problems of the last round that went away keep their rows and notes (those from a to b)."""
    for n, (past, r) in enumerate(m.gone[a:b], start=before + a + 1):
        old = past.row
        yield (
            [
                n,
                _plain(old.get("严重程度")),
                r.status,
                _plain(old.get("对象")),
                _plain(old.get("问题说明")),
                r.notes.checked,
                r.notes.advice,
                r.notes.disposition,
                _plain(old.get("期望")),
                _plain(old.get("实际")),
                _plain(old.get("位置")),
                None,
                past.key,
                r.first_seen,
                f"第 {r.first_round} 轮" if r.first_round else "",
                _plain(old.get("类别")),
                _plain(old.get("规则")),
            ]
        )


def _change_link(row: int | None) -> tuple[str, str] | None:
    """A link from a problem to its entity's rows in 变更记录, when it resubmitted."""
    return None if row is None else (f"internal:'变更记录'!A{row}", "查看变更")


def _changes(w: _Writer, m: MergeResult) -> None:
    cols = [
        Col("对象", 28),
        Col("类别", 9),
        Col("变更项", 40),
        Col("原值", 30),
        Col("新值", 30),
        Col("对照", 24),
        Col("来源", 36, "link"),
    ]
    rows = [
        [
            c.entity,
            KIND_LABELS.get(c.kind, c.kind),
            c.item,
            _plain(c.old),
            _plain(c.new),
            c.against,
            w.link(c.path, c.loc),
        ]
        for c in m.changes
    ]
    w.table("变更记录", cols, rows)


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, float, str)) or v is None else str(v)
