"""Review rounds: problem numbers that hold, auditors' notes carried across re-merges."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import lo
import openpyxl
import pytest
from click.testing import CliRunner

from perfxl.check import check_paths
from perfxl.cli import main
from perfxl.consolidated import write_consolidated
from perfxl.data import FormData
from perfxl.exchange import fill_file
from perfxl.merging import MergeResult, merge
from perfxl.review import FIXED, NEW, OPEN, UNREVIEWED, read_notes, read_previous

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CATALOG = SAMPLES / "catalog.csv"
MZ = "部门整体_02_济南市历下区民政局"


def data(stem: str) -> FormData:
    return FormData.from_json(json.loads((SAMPLES / "data" / f"{stem}.json").read_text(encoding="utf-8")))


def samples_in(inbox: Path) -> Path:
    """A folder of copies of the 13 sample forms (the tests change some of them)."""
    inbox.mkdir()
    for p in sorted(SAMPLES.glob("*.xlsx")):
        shutil.copy(p, inbox / p.name)
    return inbox


def keys_by_rule(path: Path) -> dict[tuple[str, str], str]:
    (r,) = check_paths([path], year=2024).files
    return {(f.rule, f.message.split("：")[0]): f.key for f in r.findings}


def test_problem_numbers_survive_moved_rows_and_other_fixes(tmp_path: Path) -> None:
    """A task row inserted above, an indicator row inserted above and another problem fixed:
    every remaining problem keeps its number (the values in its message may change)."""
    before = fill_file(data(MZ), tmp_path / "before.xlsx")
    changed = data(MZ)
    tasks, indicators = changed.tables["tasks"], changed.tables["indicators"]
    row = {"function": "新增职能", "task": "新增任务", "projects": "新增项目", "budget": 1, "fiscal": 1, "other": 0}
    tasks.insert(0, row)
    indicators.insert(0, dict(indicators[0], level3="新增的指标"))
    fixed = next(i for i, row in enumerate(indicators) if i and row.get("op") is None and row.get("unit") == "%")
    indicators[fixed]["op"] = "＝"  # the district standard (≥ would now depart from it: library.deviation)
    after = fill_file(changed, tmp_path / "after.xlsx")
    a = {f.key: f for f in check_paths([before], year=2024).files[0].findings}
    b = {f.key: f for f in check_paths([after], year=2024).files[0].findings}
    assert len(a) == len(check_paths([before], year=2024).files[0].findings)  # all numbers distinct
    gone = set(a) - set(b)
    assert [a[k].rule for k in gone] == ["value.no_operator"]  # only the fixed one disappeared
    assert {f.rule for k, f in b.items() if k not in a} <= {"value.no_operator"}  # the copied row's own
    moved = [k for k in set(a) & set(b) if (a[k].sheet, a[k].cell) != (b[k].sheet, b[k].cell)]
    assert moved  # rows moved down, numbers stayed
    total = next(k for k, f in a.items() if f.rule == "dept.tasks.total_vs_project")
    assert total in b and b[total].actual != a[total].actual  # the value changed, the number did not


# ----- three rounds ---------------------------------------------------------------------


def rows_of(path: Path, sheet: str = "问题清单") -> list[dict[str, Any]]:
    ws = openpyxl.load_workbook(path)[sheet]
    head = [c.value for c in ws[1]]
    return [dict(zip(head, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]


def by_key(result: MergeResult, rule: str, entity: str) -> str:
    return next(f.key for f in result.findings if f.rule == rule and f.entity == entity)


@pytest.mark.libreoffice
def test_three_review_rounds(tmp_path: Path) -> None:
    inbox = samples_in(tmp_path / "收件箱")
    out = tmp_path / "汇总.xlsx"

    # round 1
    first = merge([inbox], catalog=CATALOG, year=2024, round_date="2026-01-05")
    write_consolidated(first, out)
    open_key = by_key(first, "dept.budget.use_vs_source", "济南市历下区教育和体育局")
    fixed_key = by_key(first, "dept.tasks.total_vs_project", "济南市历下区民政局")
    false_key = by_key(first, "project.cost.unit_standard", "两馆免费开放")
    assert {first.reviews[k].status for k in (open_key, fixed_key, false_key)} == {NEW}

    # auditors type their notes in LibreOffice, at the keyboard, and save
    rows = rows_of(out)
    head = list(rows[0])
    notes = {
        open_key: ("=属实，已电话核对", "请调整资金来源", "属实待整改"),
        fixed_key: ("任务合计少 163 万元", "+补列任务后重报", "属实待整改"),
        false_key: ("@活动标准含场地费", "-", "误报"),
    }
    typed = []
    for key, values in notes.items():
        r = next(i for i, row in enumerate(rows, start=2) if row["问题编号"] == key)
        for col, text in zip(("核实情况", "处理意见", "处置"), values, strict=True):
            typed.append(["问题清单", f"{chr(ord('A') + head.index(col))}{r}", text])
    saved = tmp_path / "审核后.xlsx"
    shown = lo.probe(out, [{"op": "type", "cells": typed}], save_as=str(saved))["steps"][0]
    assert all(v["after"] == t for (s, c, t), v in zip(typed, shown.values(), strict=True)), shown  # not refused
    shutil.copy(saved, out)
    assert read_notes(out)[open_key].checked == "=属实，已电话核对"  # typed =… stays text

    # round 2: 民政局 corrects its tasks, a new project arrives with an error
    corrected = data(MZ)
    corrected.tables["tasks"][0]["budget"] += 163
    corrected.tables["tasks"][0]["fiscal"] += 163
    fill_file(corrected, inbox / f"{MZ}.xlsx")
    newcomer = data("项目支出_01_妇女儿童工作专项经费")
    newcomer.fields["project_name"] = "新增项目"
    newcomer.fields["fiscal"] = 30.0  # sources no longer add up to the total
    fill_file(newcomer, inbox / "新增项目.xlsx")
    second = merge([inbox], catalog=CATALOG, year=2024, previous=read_previous(out), round_date="2026-02-10")
    write_consolidated(second, out)
    assert second.round == 2
    assert second.reviews[open_key].status == OPEN and second.reviews[open_key].first_seen == "2026-01-05"
    assert second.reviews[false_key].notes.disposition == "误报"
    assert fixed_key not in second.reviews
    (fixed,) = [r for past, r in second.gone if past.key == fixed_key]
    assert fixed.status == FIXED and fixed.notes.advice == "+补列任务后重报"
    new = [f for f in second.findings if f.entity == "新增项目" and f.rule == "project.funds.total"]
    assert new and second.reviews[new[0].key].status == NEW
    listed = {row["问题编号"]: row for row in rows_of(out)}
    assert listed[fixed_key]["状态"] == FIXED and listed[fixed_key]["核实情况"] == "任务合计少 163 万元"
    assert listed[open_key]["核实情况"] == "=属实，已电话核对" and listed[open_key]["轮次"] == "第 1 轮"
    changed = {(row["对象"], row["变更项"]): row for row in rows_of(out, "变更记录")}
    task = next(v for k, v in changed.items() if k[0] == "济南市历下区民政局" and k[1].endswith("预算资金（万元）"))
    assert task["新值"] - task["原值"] == 163 and task["对照"].startswith("上一轮")
    assert {k[0] for k in changed} == {"济南市历下区民政局"}  # the only resubmission; 新增项目 is new
    ws = openpyxl.load_workbook(out)["问题清单"]
    head = [c.value for c in ws[1]]
    to_changes = [
        r[head.index("变更")].hyperlink.location
        for r in ws.iter_rows(min_row=2)
        if r[head.index("对象")].value == "济南市历下区民政局" and r[head.index("变更")].hyperlink
    ]
    first = 2 + next(i for i, row in enumerate(rows_of(out, "变更记录")) if row["对象"] == "济南市历下区民政局")
    assert to_changes and set(to_changes) == {f"'变更记录'!A{first}"}  # each finding links to its changes
    checks = {row["问题编号"]: row for row in rows_of(out, "交叉校验")}
    assert checks[false_key]["处置"] == "误报" and checks[false_key]["状态"] == OPEN

    # round 3: nothing changed
    third = merge([inbox], catalog=CATALOG, year=2024, previous=read_previous(out), round_date="2026-03-01")
    write_consolidated(third, out)
    assert third.round == 3
    assert {k: r.status for k, r in third.reviews.items()} == {k: OPEN for k in second.reviews}
    (still,) = [r for past, r in third.gone if past.key == fixed_key]
    assert still.status == FIXED and still.notes.checked == "任务合计少 163 万元"
    assert read_notes(out)[false_key].checked == "@活动标准含场地费"


def test_a_check_that_passed_last_round_and_fails_now_is_new(tmp_path: Path) -> None:
    """交叉校验 lists passing checks with their numbers too; one of them failing after a
    resubmission is a 新发现 of this round, not a problem that 仍存在."""
    inbox = samples_in(tmp_path / "in")
    out = tmp_path / "汇总.xlsx"
    first = merge([inbox], catalog=CATALOG, year=2024, round_date="2026-01-05")
    write_consolidated(first, out)
    stem = "项目支出_04_政务大厅运行经费"
    passed = {c.key for c in first.checks if c.entity == "政务大厅运行经费" and c.status == "pass"}
    form = data(stem)
    form.fields["fiscal"] = 1600.0  # no longer the sum its sources make
    fill_file(form, inbox / f"{stem}.xlsx")
    second = merge([inbox], catalog=CATALOG, year=2024, previous=read_previous(out), round_date="2026-02-10")
    broken = [c.key for c in second.checks if c.key in passed and c.status == "fail"]
    assert broken
    for key in broken:
        state = second.reviews[key]
        assert (state.status, state.first_seen, state.first_round) == (NEW, "2026-02-10", 2)
    assert not any(second.reviews.get(k) for k in passed - set(broken))  # still passing: no state


def test_a_note_beside_a_passing_check_is_kept(tmp_path: Path) -> None:
    """Nothing an auditor writes is dropped: a note beside a check that passes stays on its row,
    round after round, and goes with it into 问题清单 when the check fails."""
    inbox = samples_in(tmp_path / "in")
    out = tmp_path / "汇总.xlsx"
    first = merge([inbox], catalog=CATALOG, year=2024, round_date="2026-01-05")
    write_consolidated(first, out)
    mine = {c.rule_id: c.key for c in first.checks if c.entity == "政务大厅运行经费" and c.status == "pass"}
    keep, breaks = mine["project.cost.components_vs_total"], mine["project.funds.total"]
    wb = openpyxl.load_workbook(out)
    ws = wb["交叉校验"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        key = row[head.index("问题编号")].value
        if key in (keep, breaks):
            row[head.index("核实情况")].value = f"已看过 {key}"
    wb.save(out)
    stem = "项目支出_04_政务大厅运行经费"
    form = data(stem)
    form.fields["fiscal"] = 1600.0
    fill_file(form, inbox / f"{stem}.xlsx")
    for day in ("2026-02-10", "2026-03-01"):  # kept twice: the second round reads it from the first
        result = merge([inbox], catalog=CATALOG, year=2024, previous=read_previous(out), round_date=day)
        write_consolidated(result, out)
        notes = read_notes(out)
        assert notes[keep].checked == f"已看过 {keep}" and notes[breaks].checked == f"已看过 {breaks}"
        assert result.reviews[keep].status == "" and result.reviews[breaks].status in (NEW, OPEN)


def test_a_problem_gone_without_a_resubmission_is_unreviewed(tmp_path: Path) -> None:
    """已整改 needs a new file from the entity; a problem that vanished because its file is no
    longer among the inputs is 未复核, and its row stays."""
    files = sorted(SAMPLES.glob("*.xlsx"))
    first = merge(files, catalog=CATALOG, year=2024, round_date="2026-01-05")
    out = write_consolidated(first, tmp_path / "汇总.xlsx")
    key = by_key(first, "project.cost.unit_standard", "两馆免费开放")
    sha = next(r.report.sha256 for r in first.roster if r.entity == "两馆免费开放" and r.report)
    assert read_previous(out).files[("项目支出", "两馆免费开放")] == sha  # what tells a resubmission apart
    rest = [p for p in files if "两馆免费开放" not in p.name]
    second = merge(rest, catalog=CATALOG, year=2024, previous=read_previous(out), round_date="2026-02-10")
    (state,) = [r for past, r in second.gone if past.key == key]
    assert state.status == UNREVIEWED
    assert all(r.status == OPEN for r in second.reviews.values() if r.first_seen == "2026-01-05")


def test_the_previous_round_read_aside_is_the_same_round(tmp_path: Path) -> None:
    """Given as a function, the previous round is read in a forked process while the merge runs;
    a function that cannot travel there (a lambda) is read here. Same workbook either way."""
    from functools import partial

    files = sorted(SAMPLES.glob("*.xlsx"))
    out = write_consolidated(merge(files, catalog=CATALOG, year=2024, round_date="2026-01-05"), tmp_path / "汇总.xlsx")
    rest = [p for p in files if "两馆免费开放" not in p.name]
    books = []
    for i, previous in enumerate([read_previous(out), partial(read_previous, out), lambda: read_previous(out)]):
        result = merge(rest, catalog=CATALOG, year=2024, previous=previous, round_date="2026-02-10")
        assert result.previous is not None and result.previous.number == 1
        books.append(write_consolidated(result, tmp_path / str(i) / "汇总.xlsx").read_bytes())
    assert books[0] == books[1] == books[2]


def test_the_previous_round_travels_by_value() -> None:
    """What the reader sends back from its process (pickled) is the same round: notes, states, rows."""
    import pickle

    from perfxl.review import Notes, PastProblem, PreviousRound

    problems = {
        "A1": PastProblem(
            "A1", Notes("已核实", "", "误报"), OPEN, "2026-01-05", 1, "1 | 2", {"对象": "甲", "期望": 1.0}
        ),
        "B2": PastProblem("B2", Notes(), NEW, "2026-02-10", 2, "", {}),
    }
    prev = PreviousRound(number=2, date="2026-02-10", problems=problems, files={("部门", "甲"): "ab" * 32})
    back = pickle.loads(pickle.dumps(prev, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == prev and back.problems["A1"].notes.disposition == "误报" and not back.problems["B2"].notes


def test_rule_rows_are_numbered_where_files_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file's rule rows (交叉校验) are numbered where it is checked (RuleNumbers, kept with
    its report in the cache), and the merge takes those numbers: the same it makes itself, with
    and without a cache; numbers made for another year are not taken."""
    from functools import partial

    import perfxl.check as check
    from perfxl.rules import rules_for

    inbox = samples_in(tmp_path / "in")

    def numbers(cache: Path | None = None) -> list[tuple[str, str, str]]:
        result = merge([inbox], catalog=CATALOG, year=2024, round_date="2026-01-05", cache=cache)
        return [(c.entity, c.rule_id, c.key) for c in result.checks]

    taken = numbers()
    own = {r.id for kind in ("dept", "project") for r in rules_for(kind)}  # a form's own rules
    rule_rows = [i for i, (_, rule, _) in enumerate(taken) if rule in own]
    assert len(rule_rows) > 80 and all(k for *_, k in taken)
    real = check.rule_numbers
    monkeypatch.setattr(check, "rule_numbers", lambda *args: None)  # (the checking workers fork: they see it)
    assert numbers() == taken  # made by the merge itself
    monkeypatch.setattr(check, "rule_numbers", real)
    cache = tmp_path / "c.sqlite"
    assert numbers(cache) == taken == numbers(cache)  # cold, warm
    for year, used in ((None, True), (2023, False)):
        monkeypatch.setattr(check, "rule_numbers", partial(_bogus_numbers, real, year))
        got = numbers()
        assert all((got[i][2] == "X" * 10) is used for i in rule_rows)


def _bogus_numbers(real: Any, year: int | None, *args: Any) -> Any:
    """RuleNumbers with every number X…, made for `year` (None: the file's own)."""
    from dataclasses import replace

    made = real(*args)
    return replace(made, keys=("X" * 10,) * len(made.keys), year=made.year if year is None else year)


def test_a_merge_started_ahead_is_the_same_merge(tmp_path: Path) -> None:
    """`perfxl merge` starts reading the previous round and a checking worker before anything else
    (Aside, Checkers): the same workbook as a merge that starts them itself, and no worker
    left behind, whether it had a file to check or nothing changed."""
    from functools import partial

    from perfxl.inputs import collect
    from perfxl.merging import Aside, merge_collected
    from perfxl.workers import Checkers

    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    out = write_consolidated(merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / "1.xlsx")
    fill_file(data(MZ), inbox / f"{MZ}.xlsx")  # new bytes: one file to check
    for changed in (True, False):
        files, skipped = collect([inbox])
        plain = merge_collected(files, skipped, catalog=CATALOG, previous=partial(read_previous, out), cache=cache,
                                round_date="2026-02-10")  # fmt: skip
        checkers = Checkers()
        workers = list(checkers.pool._processes.values())  # type: ignore[attr-defined]
        ahead = merge_collected(files, skipped, catalog=CATALOG, previous=Aside(partial(read_previous, out)),
                                cache=cache, round_date="2026-02-10", checkers=checkers)  # fmt: skip
        for proc in workers:
            proc.join(10)
            assert not proc.is_alive()
        a = write_consolidated(plain, tmp_path / f"a{changed}" / "汇总.xlsx").read_bytes()
        assert write_consolidated(ahead, tmp_path / f"b{changed}" / "汇总.xlsx").read_bytes() == a
        assert ahead.previous is not None and ahead.previous.number == 1


def test_a_workbook_as_written_is_not_read_back(tmp_path: Path) -> None:
    """With workers, the writer keeps with the cache the round the next merge will read back from
    the workbook (ReportCache.keep_round); the next merge takes it instead of reading the workbook:
    the same round, so the same bytes, over rounds with notes, a problem gone unreviewed and one
    changed. Once someone saves the workbook, it is read back again."""
    from perfxl.merging import Aside, previous_round
    from perfxl.review import CHANGED, Notes

    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    out = write_consolidated(
        merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / "1" / "汇总.xlsx",
        jobs=2, cache=cache,
    )  # fmt: skip
    kept = previous_round(out, cache)
    assert not isinstance(kept, Aside) and kept == read_previous(out) and len(kept.problems) > 20
    for p in inbox.glob("*两馆免费开放*"):  # its problems: 未复核
        p.unlink()
    form = data(MZ)  # a problem whose values change: 仍存在（数值有变化）
    form.fields["exp_project"] = float(form.fields["exp_project"] or 0) + 1  # type: ignore[arg-type]
    fill_file(form, inbox / f"{MZ}.xlsx")
    key = sorted(kept.problems)[0]
    notes = {key: Notes("已核实", "=不是公式", "误报")}  # as the intake passes the browser's notes
    books = []
    for i, previous in enumerate((kept, read_previous(out))):
        result = merge([inbox], catalog=CATALOG, round_date="2026-02-10", cache=cache, previous=previous, notes=notes)
        books.append(write_consolidated(result, tmp_path / f"2{i}" / "汇总.xlsx", jobs=2, cache=cache))
    assert books[0].read_bytes() == books[1].read_bytes()
    again = previous_round(books[1], cache)
    assert not isinstance(again, Aside) and again == read_previous(books[1])
    states = {p.status for p in again.problems.values()}
    assert {UNREVIEWED, CHANGED, OPEN} <= states and again.problems[key].notes == notes[key]
    openpyxl.load_workbook(books[1]).save(books[1])  # someone saved it: read back
    saved = previous_round(books[1], cache)
    assert isinstance(saved, Aside)
    saved.close()
    assert previous_round(books[1], None) is not None  # no cache: read back (an Aside)


def test_cli_keeps_the_previous_round_and_starts_afresh_on_request(tmp_path: Path) -> None:
    out = tmp_path / "汇总.xlsx"
    files = [str(p) for p in sorted(SAMPLES.glob("*.xlsx"))]
    args = ["merge", *files, "--catalog", str(CATALOG), "-o", str(out), "-q"]
    assert CliRunner().invoke(main, [*args, "--round-date", "2026-01-05"]).exit_code == 0
    first = out.read_bytes()
    assert CliRunner().invoke(main, [*args, "--round-date", "2026-02-10"]).exit_code == 0
    # kept as it was (a hard link to the old file: the new one was renamed over the name)
    assert (tmp_path / "汇总_第1轮_2026-01-05.xlsx").read_bytes() == first != out.read_bytes()
    assert read_previous(out).number == 2
    assert CliRunner().invoke(main, [*args, "--fresh", "--round-date", "2026-03-01"]).exit_code == 0
    assert read_previous(out).number == 1
    # the same inputs, date and previous round give the same bytes
    a = tmp_path / "a.xlsx"
    b = tmp_path / "b.xlsx"
    for target in (a, b):
        assert CliRunner().invoke(main, [*args[:-3], "-o", str(target), "--previous", str(out),
                                         "--round-date", "2026-04-01", "-q"]).exit_code == 0  # fmt: skip
    assert a.read_bytes() == b.read_bytes()


def test_an_unreadable_previous_round_starts_afresh(tmp_path: Path) -> None:
    out = tmp_path / "汇总.xlsx"
    out.write_bytes(b"not a workbook")
    r = CliRunner().invoke(main, ["merge", str(SAMPLES / f"{MZ}.xlsx"), "-o", str(out)])
    assert r.exit_code == 0 and "上一轮汇总文件无法读取" in r.stderr
    assert read_previous(out).number == 1


def test_the_cache_makes_re_merges_faster_never_different(tmp_path: Path) -> None:
    """Outputs are byte-identical with and without the cache; a damaged cache is rebuilt."""
    from perfxl.cache import ReportCache
    from perfxl.library import load_library

    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    plain = write_consolidated(merge([inbox], catalog=CATALOG, round_date="2026-01-05"), tmp_path / "plain.xlsx")
    for name in ("first", "second"):  # the second merge takes every report from the cache
        out = write_consolidated(
            merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / f"{name}.xlsx"
        )
        assert out.read_bytes() == plain.read_bytes(), name
    store = ReportCache(cache, load_library().sha256)  # keys include the common-indicator library
    key = store.key(inbox / f"{MZ}.xlsx", (inbox / f"{MZ}.xlsx").read_bytes(), None)
    assert store.get(key) is not None
    assert store.db is not None
    with store.db:  # one entry that no longer loads: that file is checked again
        store.db.execute("UPDATE reports2 SET report = ? WHERE key = ?", (b"not a pickle", key))
    assert store.get(key) is None and len(store.get_many([key, "no such key"])) == 0
    store.close()
    one_bad = write_consolidated(
        merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / "one_bad.xlsx"
    )
    assert one_bad.read_bytes() == plain.read_bytes()
    cache.write_bytes(b"this is not a database")
    again = write_consolidated(
        merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / "d.xlsx"
    )
    assert again.read_bytes() == plain.read_bytes()
    fill_file(data(MZ), inbox / f"{MZ}.xlsx")  # the same content re-filled: new bytes, checked again
    changed = merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache)
    assert [r.entity for r in changed.roster if r.status == "accepted"] == [
        r.entity for r in merge([inbox], catalog=CATALOG, round_date="2026-01-05").roster if r.status == "accepted"
    ]


def test_a_process_merging_again_unpickles_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running process (the intake) merges again and again: a cached report whose stored
    bytes it unpickled last time is that same report again; other bytes are unpickled anew; past
    LOADED_AT_MOST files, nothing is kept between merges."""
    import pickle

    import perfxl.cache
    from perfxl.cache import ReportCache
    from perfxl.library import load_library

    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"

    def reports() -> dict[Path, Any]:
        result = merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache)
        return {r.path: r.report for r in result.roster if r.report and r.path}

    reports()  # fills the cache
    first, second = reports(), reports()
    assert len(first) == 13 and all(second[p] is first[p] for p in first)
    store = ReportCache(cache, load_library().sha256)
    path = inbox / f"{MZ}.xlsx"
    key = store.key(path, path.read_bytes(), None)
    assert store.db is not None
    with store.db:  # the same report, pickled otherwise: other bytes
        (blob,) = store.db.execute("SELECT report FROM reports2 WHERE key = ?", (key,)).fetchone()
        store.db.execute("UPDATE reports2 SET report = ? WHERE key = ?", (pickle.dumps(pickle.loads(blob), 4), key))
    store.close()
    third = reports()
    assert [p for p in first if third[p] is not second[p]] == [path]
    assert [f.key for f in third[path].findings] == [f.key for f in second[path].findings]
    monkeypatch.setattr(perfxl.cache, "LOADED_AT_MOST", 12)  # more files than that: nothing kept between merges
    fourth, fifth = reports(), reports()
    assert not any(fifth[p] is fourth[p] for p in first)


def test_a_file_untouched_since_the_last_merge_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-merge takes the SHA-256 of a file untouched since it was hashed from the cache: same
    result, no byte read. A file just written is hashed every time (its times may not have
    settled), and one changed behind its back (same size, modification time set back) is read."""
    import os

    import perfxl.cache

    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    read: list[str] = []
    real = Path.read_bytes

    def counted(self: Path) -> bytes:
        if self.parent == inbox:
            read.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counted)

    def merged(name: str) -> tuple[MergeResult, bytes]:
        read.clear()
        result = merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache)
        return result, write_consolidated(result, tmp_path / f"{name}.xlsx").read_bytes()

    plain = write_consolidated(merge([inbox], catalog=CATALOG, round_date="2026-01-05"), tmp_path / "p.xlsx")
    count = len(list(inbox.glob("*.xlsx")))
    for name in ("first", "second"):  # copied a moment ago: hashed both times
        assert merged(name)[1] == plain.read_bytes()
        assert sorted(read) == sorted(p.name for p in inbox.glob("*.xlsx")) and len(read) == count
    monkeypatch.setattr(perfxl.cache, "_SETTLED_NS", 0)  # as if they had been copied long ago
    merged("third")
    assert merged("fourth")[1] == plain.read_bytes() and read == []
    victim = inbox / f"{MZ}.xlsx"
    st = victim.stat()
    victim.write_bytes(b"\0" * st.st_size)  # other bytes, same size, the old modification time
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    result, _ = merged("fifth")
    assert read == [victim.name]
    assert {r.path.name: r.status for r in result.roster if r.path}[victim.name] == "rejected"


def test_the_change_list_is_the_same_from_the_cache_and_from_the_previous_workbook(tmp_path: Path) -> None:
    """A re-merge takes the previous file's content from the cache (by its SHA-256) instead of
    reading the previous workbook's data sheets; both give the same change rows and bytes."""
    inbox = samples_in(tmp_path / "in")
    cache = tmp_path / "c.sqlite"
    first = write_consolidated(
        merge([inbox], catalog=CATALOG, round_date="2026-01-05", cache=cache), tmp_path / "1.xlsx"
    )
    changed = data(MZ)
    changed.tables["tasks"][0]["budget"] = 4321
    changed.tables["indicators"][3]["value"] = 77
    fill_file(changed, inbox / f"{MZ}.xlsx")
    (inbox / f"{MZ}.xlsx").replace(inbox / "民政局_更正.xlsx")  # another name: found by content, not path
    blind = read_previous(first)
    blind.source = None  # the data sheets out of reach: the old content can only come from the cache
    cached = merge([inbox], catalog=CATALOG, round_date="2026-02-01", previous=blind, cache=cache)
    plain = merge([inbox], catalog=CATALOG, round_date="2026-02-01", previous=read_previous(first))
    rows = [(c.entity, c.item, c.old, c.new, c.against) for c in cached.changes]
    assert rows == [(c.entity, c.item, c.old, c.new, c.against) for c in plain.changes]
    assert {(item.split("·")[0], new) for _e, item, _old, new, _a in rows} >= {("任务", 4321), ("指标", "77 %")}
    assert all(a == "上一轮（2026-01-05）" for *_, a in rows)
    a = write_consolidated(cached, tmp_path / "a.xlsx")
    b = write_consolidated(plain, tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()


def test_reading_columns_gives_what_records_give() -> None:
    """交叉校验 is read by column (no dict per row): the same values as its records, whatever the
    headers (missing, repeated, blank) and the rows (short, empty cells)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from perfxl.review import _keyed_columns, _keyed_records

    names = st.sampled_from(["问题编号", "核实情况", "右值", "左值", "状态", "", None])
    cells = st.one_of(st.just(""), st.none(), st.text(max_size=3), st.floats(allow_nan=False), st.integers())

    @settings(max_examples=200, deadline=None)
    @given(head=st.lists(names, max_size=6), rows=st.lists(st.lists(cells, max_size=7), max_size=6))
    def check(head: list[Any], rows: list[list[Any]]) -> None:
        table = [head, *rows]
        cols = ("问题编号", "核实情况", "右值", "左值", "状态", "轮次")
        expected = [[rec.get(c) for c in cols] for rec in _keyed_records(table, "问题编号")]
        assert list(_keyed_columns(table, "问题编号", cols)) == expected

    check()
