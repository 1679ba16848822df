"""Many submissions → one district view: roster, data, cross-checks, findings.

Every input file is accounted for: accepted (current), superseded by a later
submission of the same entity, an identical duplicate, rejected (unreadable or
not our template) or skipped (lock files, hidden files, non-workbooks).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perfxl.catalog import CatalogEntry, read_catalog
from perfxl.check import FileReport, trusted_modified
from perfxl.codes import severity_of
from perfxl.data import Numbers, numeric_view
from perfxl.derive import listed_projects
from perfxl.findings import Finding, Severity
from perfxl.forms import KIND_LABELS, get_spec
from perfxl.inputs import collect
from perfxl.isolate import check_files
from perfxl.read import Loc, Submission
from perfxl.review import (
    Change,
    Notes,
    PastProblem,
    PreviousRound,
    Review,
    anchor_of,
    changes,
    field_cells,
    gone,
    problem_key,
    read_previous,
    review,
    snapshot,
    values_text,
)
from perfxl.values import normalise
from perfxl.workers import Checkers, die_with_parent

if TYPE_CHECKING:
    from perfxl.cache import ReportCache
    from perfxl.library import Library
from perfxl.rules import CROSS_RULES, Outcome, evaluate

Progress = Callable[[int], None]
RosterStatus = Literal["accepted", "superseded", "duplicate", "rejected", "skipped", "missing"]
ROSTER_LABEL: dict[str, str] = {
    "accepted": "已接收", "superseded": "已被新版本替代", "duplicate": "重复提交（内容相同）",
    "rejected": "无法读取", "skipped": "已跳过", "missing": "未提交",
}  # fmt: skip


@dataclass(kw_only=True)
class RosterRow:
    status: RosterStatus
    kind: str = ""
    entity: str = ""
    competent: str = ""
    catalog: CatalogEntry | None = None
    path: Path | None = None
    reason: str = ""
    report: FileReport | None = None


@dataclass(kw_only=True)
class CrossCheck:
    """One evaluated rule for one entity: intra-form and cross-form alike."""

    rule_id: str
    title: str
    severity: Severity
    kind: str
    entity: str
    competent: str
    status: str  # pass / fail / skip / incomplete
    left: float | None = None
    right: float | None = None
    detail: str = ""
    path: Path | None = None
    loc: Loc | None = None
    key: str = ""  # 问题编号 (review.py); the same as the finding a failing check also is

    @property
    def diff(self) -> float | None:
        if self.left is None or self.right is None:
            return None
        return round(self.left - self.right, 6)


@dataclass
class MergeResult:
    """Everything a merge found: roster (every input accounted for), checks, findings."""

    roster: list[RosterRow]
    checks: list[CrossCheck]
    findings: list[Finding]
    year: int | None
    inputs: int = 0
    round: int = 1  # 审核轮次: one more than the previous workbook's
    round_date: str = ""
    reviews: dict[str, Review] = field(default_factory=dict)  # problem number → its state this round
    gone: list[tuple[PastProblem, Review]] = field(default_factory=list)  # in the last round, not in this one
    previous_problem: str = ""  # why the previous round could not be read ("" when it could, or none)
    changes: list[Change] = field(default_factory=list)  # what resubmitted entities changed
    library: Library | None = None  # the common indicators the forms were checked against
    previous: PreviousRound | None = field(default=None, repr=False)  # the round this one follows

    def accepted(self, kind: str | None = None) -> list[FileReport]:
        return [
            r.report
            for r in self.roster
            if r.status == "accepted" and r.report is not None and (kind is None or r.kind == kind)
        ]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.roster)


def auto_jobs(files: int) -> int:
    """Processes worth starting for `--jobs 0`: one for a handful of files (starting a pool
    costs more than it saves), else one per core, at most 4."""
    return 1 if files < 200 else max(1, min(4, os.cpu_count() or 1))


def _recency(r: FileReport) -> tuple[str, float, str]:
    """Newest first: the saved-at time in the file's metadata where it can be trusted, then the
    file's own time, then the path (so the order never depends on the input order)."""
    sub = r.submission
    modified = trusted_modified(sub.scan.modified)[0] if sub and sub.scan else ""
    try:
        mtime = r.path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return (modified, mtime, str(r.path))


def _decided_by(newer: FileReport, older: FileReport) -> str:
    a, b = _recency(newer), _recency(older)
    if a[0] != b[0]:
        return "按文件元数据中的保存时间"
    if a[1] != b[1]:
        return "按文件时间"
    return "两者时间相同，按文件名"


def _competent(r: FileReport) -> str:
    sub = r.submission
    if sub is None or sub.data is None:
        return ""
    if r.kind == "dept":
        return r.entity
    return str(sub.data.fields.get("competent") or sub.meta.competent_dept or "").strip()


def merge(
    inputs: Sequence[str | Path],
    *,
    catalog: str | Path | None = None,
    year: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    previous: PreviousRound | Callable[[], PreviousRound] | Aside | None = None,
    round_date: str = "",
    cache: str | Path | None = None,
    notes: Mapping[str, Notes] | None = None,
    indicators: str | Path | None = None,
) -> MergeResult:
    """Check every file in `inputs` (files or folders, walked) and join them into one district
    view; `write_consolidated` turns the result into the workbook, `merge_json` into JSON.
    With `previous` (review.read_previous of the last workbook), notes and statuses carry over;
    `notes` (by 问题编号, e.g. typed in the intake's browser pages) replace the workbook's."""
    files, skipped = collect([Path(i) for i in inputs])
    return merge_collected(
        files,
        skipped,
        catalog=Path(catalog) if catalog else None,
        year=year,
        jobs=jobs,
        progress=progress,
        previous=previous,
        round_date=round_date,
        cache=Path(cache) if cache else None,
        notes=notes,
        indicators=Path(indicators) if indicators else None,
    )


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A merge builds hundreds of thousands of small, long-lived objects and almost no cyclic
    garbage; the cyclic collector would re-scan them over and over (a fifth of a county merge,
    more in a long-running server whose own objects are frozen). It is off while inside, as
    before afterwards; what was there before is frozen for forked workers (copy-on-write).
    Workers that check files turn it back on (`workers.die_with_parent`). On the way out, what
    the block made and kept joins the oldest generation unscanned: left in the youngest, the
    collector's first run would scan all of it (0.15 s after a merge of 2,000)."""
    enabled = gc.isenabled()
    mine = gc.get_freeze_count() == 0  # leave a caller's own frozen objects (or an outer use) alone
    if mine:
        gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if mine:
            gc.freeze()  # everything tracked, the block's objects too, then all of it to the oldest
            gc.unfreeze()
        if enabled:
            gc.enable()


def merge_collected(
    files: list[Path],
    skipped: list[tuple[Path, str]],
    *,
    catalog: Path | None = None,
    year: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    previous: PreviousRound | Callable[[], PreviousRound] | Aside | None = None,
    round_date: str = "",
    cache: Path | None = None,
    notes: Mapping[str, Notes] | None = None,
    indicators: Path | None = None,
    checkers: Checkers | None = None,
) -> MergeResult:
    """`merge` for inputs already walked by `collect` (the CLI needs the count for its progress bar).
    With `cache` (a file), unchanged files reuse their check results from the last merge.
    `previous` may be a function that reads it (it then runs while the workers check) or a read
    already started (`Aside`); `checkers`, workers started ahead (closed here)."""
    from perfxl.cache import ReportCache
    from perfxl.library import load_library

    entries = read_catalog(catalog) if catalog else []
    library = load_library(indicators)
    store = ReportCache(cache, library.sha256) if cache is not None else None
    source = Aside(previous) if callable(previous) else previous
    aside = source if isinstance(source, Aside) else None
    try:
        with fewer_collections():
            here = aside.collect if aside is not None and aside.pool is None else None  # no fork: read while checking
            ahead = Ahead(year)
            reports = _checked(files, year, jobs, progress, store, indicators, here, checkers, ahead)
            result = _joined(reports, files, skipped, entries, year, source, round_date, store, ahead)
        result.library = library
    finally:
        if store is not None:
            store.close()
        if aside is not None:  # collected, or left behind by an error: either way, no process stays
            aside.close()
        if checkers is not None:
            checkers.close()
    typed = notes or {}
    for key, r in result.reviews.items():
        if key in typed:
            r.notes = typed[key]
    for past, state in result.gone:
        if past.key in typed:
            state.notes = typed[past.key]
    return result


def _aside(parent: int) -> None:
    """Initializer of the previous round's reader: die_with_parent, the collector left off (the
    reader makes tens of thousands of objects and no cyclic garbage), and a lower priority: the
    round is needed last, and the checking and loading the merge waits for come first."""
    die_with_parent(parent, collect=False)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)


def previous_round(workbook: Path, cache: Path | None = None) -> PreviousRound | Aside:
    """The previous round of a re-merge: as this tool kept it when it wrote `workbook`
    (`cache`, see ReportCache.keep_round), if the workbook is unchanged since; else read from
    the workbook, from now on, in another process (Aside)."""
    if cache is not None and cache.is_file():
        from perfxl.cache import ReportCache

        store = ReportCache(cache)
        try:
            kept = store.kept_round(workbook)
        finally:
            store.close()
        if kept is not None:
            return kept
    return Aside(partial(read_previous, workbook))


class Aside:
    """The previous round, read from now on in a forked process while this one hashes, checks and
    loads (the CLI starts it before anything else, so that it overlaps the merge's own start);
    where processes cannot be forked, read here when collected. Collected once."""

    def __init__(self, read: Callable[[], PreviousRound]) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.read = read
        self.pool: Any = None
        self.future: Future[PreviousRound] | None = None
        self._got: PreviousRound | None = None
        if "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("fork"), initializer=_aside,
                initargs=(os.getpid(),),
            )  # fmt: skip
            self.future = self.pool.submit(read)

    def collect(self) -> PreviousRound:
        if self._got is None:
            self._got = self._read()
        return self._got

    def _read(self) -> PreviousRound:
        if self.future is None:
            return self.read()
        try:
            return self.future.result()
        except Exception:  # the reader died: read it here
            return self.read()
        finally:
            self.close(wait=True)

    def close(self, wait: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=True)


def _joined(
    reports: list[FileReport],
    files: list[Path],
    skipped: list[tuple[Path, str]],
    entries: list[CatalogEntry],
    year: int | None,
    previous: PreviousRound | Aside | None,
    round_date: str,
    store: ReportCache | None,
    ahead: Ahead | None = None,
) -> MergeResult:
    """The roster, cross-checks, findings and review states of checked files. The previous round
    is needed last: one still being read (`Aside`) is collected there, its reader having had the
    time it took to join the rest. `ahead`: per-file work done already (`_checked`)."""
    ahead = ahead or Ahead(year)
    for r in reports:  # the numbers of rule rows made where the files were checked
        ahead.numbered(r)
    roster: list[RosterRow] = []
    findings: list[Finding] = []
    groups: dict[tuple[str, str, str], list[FileReport]] = defaultdict(list)
    for r in reports:
        if r.status == "rejected":
            reason = r.findings[0].message if r.findings else "无法读取"
            roster.append(RosterRow(status="rejected", path=r.path, reason=reason, report=r))
            findings += r.findings
            continue
        groups[(r.kind or "", _competent(r), r.entity)].append(r)
    current: dict[tuple[str, str, str], FileReport] = {}
    for key, group in sorted(groups.items()):
        if len(group) > 1:  # (the key reads each file's times: not for the many that stand alone)
            group.sort(key=_recency, reverse=True)
        head = group[0]
        current[key] = head
        findings += head.findings
        for k, older in enumerate(group[1:], start=1):
            twin = next((g for g in group[:k] if _same(g, older)), None)
            status: RosterStatus = "duplicate" if twin else "superseded"
            why = f"与 {twin.path} 内容相同" if twin else f"已由较新的 {head.path} 替代（{_decided_by(head, older)}）"
            roster.append(
                RosterRow(
                    status=status,
                    kind=key[0],
                    competent=key[1],
                    entity=key[2],
                    path=older.path,
                    reason=why,
                    report=older,
                )
            )
            findings.append(
                Finding(
                    rule=f"submission.{status}",
                    severity=severity_of(f"submission.{status}"),
                    form=key[0],
                    entity=key[2],
                    file=str(older.path),
                    message=f"{ROSTER_LABEL[status]}：{why}",
                    key=problem_key(year, key[0], key[2], f"submission.{status}", f"file:{older.path.name}"),
                )
            )
    # the catalog decides who is expected; everything else is unexpected
    matched: set[tuple[str, str, str]] = set()
    named: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)  # (kind, name) → keys
    for seen in current:
        named[(seen[0], seen[2])].append(seen)
    for e in entries:
        key = (e.kind, e.competent, e.name)
        if key not in current:
            alt = [k for k in named[(e.kind, e.name)] if k not in matched]
            key = alt[0] if len(alt) == 1 else key
        if key in current:
            matched.add(key)
            rep = current[key]
            roster.append(
                RosterRow(
                    status="accepted",
                    kind=e.kind,
                    entity=e.name,
                    competent=e.competent,
                    catalog=e,
                    path=rep.path,
                    report=rep,
                    reason=ahead.summary(rep),
                )
            )
        else:
            roster.append(
                RosterRow(
                    status="missing",
                    kind=e.kind,
                    entity=e.name,
                    competent=e.competent,
                    catalog=e,
                    reason="目录中有此项，但没有收到提交",
                )
            )
            findings.append(
                Finding(
                    rule="catalog.missing",
                    severity=severity_of("catalog.missing"),
                    form=e.kind,
                    entity=e.name,
                    message=f"未提交：目录第 {e.line} 行“{e.name}”没有收到填报文件",
                    key=problem_key(year, e.kind, e.name, "catalog.missing", ""),
                )
            )
    for key, rep in sorted(current.items()):
        if key in matched:
            continue
        unexpected = bool(entries)
        roster.append(
            RosterRow(
                status="accepted",
                kind=key[0],
                competent=key[1],
                entity=key[2],
                path=rep.path,
                report=rep,
                reason=("目录外提交；" if unexpected else "") + ahead.summary(rep),
            )
        )
        if unexpected:
            message = f"“{key[2]}”不在目录中，请核实是否应当提交"
            findings.append(
                Finding(
                    rule="catalog.unexpected",
                    severity=severity_of("catalog.unexpected"),
                    form=key[0],
                    entity=key[2],
                    file=str(rep.path),
                    message=message,
                    key=problem_key(year, key[0], key[2], "catalog.unexpected", ""),
                )
            )
    for p, why in skipped:
        roster.append(RosterRow(status="skipped", path=p, reason=why))
    checks = _intra_checks(roster) + _cross_checks(roster, entries, ahead)
    _key_checks(checks, roster, year, ahead)
    for c in checks:
        if c.rule_id.startswith("cross.") and c.status == "fail":
            findings.append(
                Finding(
                    rule=c.rule_id,
                    severity=c.severity,
                    form=c.kind,
                    entity=c.entity,
                    file=str(c.path or ""),
                    sheet=c.loc.sheet if c.loc else "",
                    cell=c.loc.cell if c.loc else "",
                    message=c.detail,
                    expected=c.right,
                    actual=c.left,
                    key=c.key,
                )
            )
    result = MergeResult(roster=roster, checks=checks, findings=findings, year=year, inputs=len(files) + len(skipped))
    result.previous = previous.collect() if isinstance(previous, Aside) else previous
    _apply_review(result, result.previous or PreviousRound(), round_date or date.today().isoformat(), store, year)
    return result


def _checked(
    files: list[Path],
    year: int | None,
    jobs: int,
    progress: Progress | None,
    store: ReportCache | None,
    indicators: Path | None = None,
    meanwhile: Callable[[], object] | None = None,
    checkers: Checkers | None = None,
    ahead: Ahead | None = None,
) -> list[FileReport]:
    """Every file's report, in input order: from the cache where the same bytes at the same place
    were checked before by this version, else checked now (and kept for next time).
    `meanwhile` runs while the workers check (`checkers`, when started ahead), and so does the
    join's per-file work on the reports from the cache (into `ahead`)."""
    if store is None:
        return check_files(
            files, year, jobs=jobs, progress=progress, indicators=indicators, meanwhile=meanwhile, checkers=checkers
        ).files
    keys: dict[int, str] = {}
    for i, p in enumerate(files):
        try:
            keys[i] = store.file_key(p, year)
        except OSError:
            continue  # checked below, where the reader says why it cannot be read
    known = store.known(set(keys.values()))
    todo = [i for i in range(len(files)) if keys.get(i) not in known]
    found: dict[int, FileReport] = {}

    def load() -> None:  # while the workers check what changed
        if meanwhile is not None:
            meanwhile()
        hits = store.get_many([k for k in keys.values() if k in known])
        for i, k in keys.items():
            if (hit := hits.get(k)) is not None:
                found[i] = hit
        if progress and found:
            progress(len(found))
        if ahead is not None:
            ahead.add(found.values())

    if not todo and checkers is not None:
        checkers.close()  # nothing changed: the worker loading pandera has nothing to do
    fresh = check_files(
        [files[i] for i in todo], year, jobs=jobs, progress=progress, meanwhile=load, indicators=indicators,
        checkers=checkers,
    ).files  # fmt: skip
    found.update(zip(todo, fresh, strict=True))
    unreadable = [i for i in range(len(files)) if i not in found]  # known, but its entry would not load
    if unreadable:
        again = check_files([files[i] for i in unreadable], year, jobs=jobs, indicators=indicators).files
        found.update(zip(unreadable, again, strict=True))
    store.put([(keys[i], found[i]) for i in todo + unreadable if i in keys])
    return [found[i] for i in range(len(files))]


def _key_checks(checks: list[CrossCheck], roster: list[RosterRow], year: int | None, ahead: Ahead) -> None:
    """问题编号 of every check row: for a failing one, the same number as its finding."""
    subs = {r.path: r.report.submission for r in roster if r.status == "accepted" and r.report and r.path}
    for c in checks:
        sub = subs.get(c.path) if c.path else None
        if not c.loc:
            anchor = ""
        elif sub is None:
            anchor = anchor_of(None, c.loc.sheet, c.loc.cell)
        else:
            anchor = ahead.anchor(sub, c.loc.sheet, c.loc.cell)
        if c.rule_id == "cross.task_vs_project" and c.status == "skip" and c.kind == "project":
            anchor = "unlisted"
        c.key = ahead.key((sub.year if sub else None) or year, c.kind, c.entity, c.rule_id, anchor)


def _apply_review(
    result: MergeResult, previous: PreviousRound, today: str, store: ReportCache | None, year: int | None
) -> None:
    """This round's number and date, each problem's state, and the problems that went away."""
    result.round, result.round_date = previous.number + 1, today
    result.previous_problem = previous.problem
    values = {f.key: values_text(f.expected, f.actual) for f in result.findings if f.key}
    for c in result.checks:
        if c.status in ("fail", "incomplete"):
            values.setdefault(c.key, values_text(c.right, c.left))
    result.reviews = {k: review(k, v, previous, result.round, today) for k, v in values.items()}
    for c in result.checks:  # no problem then or now, but an auditor wrote beside it: the note stays on its row
        past = previous.problems.get(c.key) if c.key not in result.reviews else None
        if past is not None and not past.status and past.notes:  # (a problem gone keeps its row in 问题清单)
            result.reviews[c.key] = Review("", "", 0, past.notes)
    now = {
        (KIND_LABELS.get(r.kind, r.kind), r.entity): r.report.sha256
        for r in result.roster
        if r.status == "accepted" and r.report
    }
    here = {o.report.sha256: o.report for o in result.roster if o.report and o.report.sha256}
    superseded: dict[tuple[str, str], RosterRow] = {}  # the newest older file of each entity
    for o in result.roster:
        if o.status == "superseded":
            superseded.setdefault((o.kind, o.entity), o)
    for r in result.roster:
        sub = r.report.submission if r.status == "accepted" and r.report else None
        if sub is None or sub.data is None or r.report is None:
            continue
        who = (KIND_LABELS.get(r.kind, r.kind), r.entity)
        older = superseded.get((r.kind, r.entity))
        was = previous.files.get(who)
        if was and was != r.report.sha256 and (old := _previous_content(was, who, previous, here, store, year)):
            against = f"上一轮（{previous.date}）" if previous.date else "上一轮"
        elif older and older.report and older.report.submission and older.report.submission.data:
            old = {k: v for k, (v, _loc) in snapshot(older.report.submission).items()}
            against = f"被替代的 {older.path.name if older.path else ''}"
        else:
            continue
        result.changes += changes(old, snapshot(sub), r.kind, r.entity, against, r.path)
    for key, past in previous.problems.items():
        if key in result.reviews or not past.row:
            continue
        who = (str(past.row.get("类别") or ""), str(past.row.get("对象") or ""))
        sha = now.get(who)
        result.gone.append((past, gone(past, resubmitted=sha is not None and sha != previous.files.get(who))))


def _previous_content(
    sha: str, who: tuple[str, str], previous: PreviousRound, here: dict[str, FileReport],
    store: ReportCache | None, year: int | None,
) -> dict[str, Any] | None:  # fmt: skip
    """What the file the previous round accepted said: its own data where we still have its
    report (among this round's inputs, or cached), else as the previous workbook shows it."""
    old = here.get(sha)
    if old is None and store is not None:
        old = store.by_sha(sha, year)
    if old is not None and old.submission is not None and old.submission.data is not None:
        return {k: v for k, (v, _loc) in snapshot(old.submission).items()}
    return previous.data_of(who)


def _same(a: FileReport, b: FileReport) -> bool:
    if a.sha256 == b.sha256:
        return True
    return bool(a.submission and b.submission and a.submission.data == b.submission.data)


class Ahead:
    """The join's per-file work, remembered: done ahead for the reports loaded from the cache
    while the changed files are still being checked (the merge would otherwise wait idle for
    them), the rest when the join asks. A form's amounts (numeric_view), its summary for the
    roster, its fields' places, the anchors of its cells and the problem numbers of its rules."""

    def __init__(self, year: int | None = None) -> None:
        self.year = year  # the merge's, for the problem numbers of forms that do not say theirs
        self._views: dict[int, tuple[Numbers, dict[str, list[Numbers]]]] = {}
        self._places: dict[int, dict[tuple[str, str], str]] = {}
        self._anchors: dict[tuple[int, str, str], str] = {}
        self._keys: dict[tuple[int | None, str, str, str, str], str] = {}
        self._summaries: dict[int, str] = {}
        self._numbered: set[int] = set()  # reports whose RuleNumbers were taken (`numbered`)

    def add(self, reports: Iterable[FileReport]) -> None:
        for r in reports:
            sub = r.submission
            if r.status == "rejected" or sub is None or sub.data is None or not r.kind:
                continue
            self.view(r)
            self.summary(r)
            if self.numbered(r):
                continue
            year = sub.year or self.year
            for o, loc in r.outcomes:  # the numbers of its rows in 交叉校验 (named after the form's entity)
                anchor = self.anchor(sub, loc.sheet, loc.cell) if loc is not None else ""
                self.key(year, r.kind, r.entity, o.rule.id, anchor)

    def numbered(self, r: FileReport) -> bool:
        """Take the anchors and numbers of r's rule rows made when it was checked (RuleNumbers),
        if made as the join makes them: `anchor` and `key` then find them."""
        if id(r) in self._numbered:
            return True
        made, sub = r.numbers, r.submission
        if made is None or sub is None or sub.data is None or r.status == "rejected":
            return False
        year = sub.year or self.year
        if (made.year, made.kind, made.entity) != (year, r.kind, r.entity) or len(made.keys) != len(r.outcomes):
            return False
        for (o, loc), anchor, key in zip(r.outcomes, made.anchors, made.keys, strict=True):
            if loc is not None:
                self._anchors.setdefault((id(sub), loc.sheet, loc.cell), anchor)
            self._keys.setdefault((year, made.kind, made.entity, o.rule.id, anchor), key)
        self._numbered.add(id(r))
        return True

    def key(self, year: int | None, kind: str, entity: str, rule: str, anchor: str) -> str:
        """review.problem_key."""
        args = (year, kind, entity, rule, anchor)
        got = self._keys.get(args)
        if got is None:
            got = self._keys[args] = problem_key(*args)
        return got

    def summary(self, r: FileReport) -> str:
        got = self._summaries.get(id(r))
        if got is None:
            got = self._summaries[id(r)] = _summary(r)
        return got

    def view(self, r: FileReport) -> tuple[Numbers, dict[str, list[Numbers]]]:
        got = self._views.get(id(r))
        if got is None:
            assert r.submission is not None and r.kind
            got = self._views[id(r)] = numeric_view(get_spec(r.kind), r.submission.data, mark_unreadable=True)  # type: ignore[arg-type]
        return got

    def anchor(self, sub: Submission, sheet: str, cell: str) -> str:
        key = (id(sub), sheet, cell)
        got = self._anchors.get(key)
        if got is None:
            places = self._places.get(id(sub))
            if places is None:
                places = self._places[id(sub)] = field_cells(sub)
            got = self._anchors[key] = anchor_of(sub, sheet, cell, places)
        return got


def _summary(r: FileReport) -> str:
    n = {s: sum(f.severity is s for f in r.findings) for s in Severity}
    if not r.findings:
        return "未发现问题"
    return "，".join(f"{s.label} {n[s]}" for s in Severity if n[s])


def _intra_checks(roster: list[RosterRow]) -> list[CrossCheck]:
    from perfxl.check import rule_message

    out: list[CrossCheck] = []
    for row in roster:
        if row.status != "accepted" or row.report is None:
            continue
        for o, loc in row.report.outcomes:
            if not o.rule.show_passes and o.status in ("pass", "skip"):
                continue
            detail = rule_message(o) if o.status in ("fail", "incomplete", "unchecked") else ""
            if o.row is not None:
                detail = f"第 {o.row + 1} 行" + (f"：{detail}" if detail else "")
            out.append(_cross(o, row, loc, detail, row.path))
    return out


def _cross_checks(roster: list[RosterRow], entries: list[CatalogEntry], ahead: Ahead) -> list[CrossCheck]:
    """Rules across forms: task rows ↔ project forms, magnitudes, catalog completeness."""
    out: list[CrossCheck] = []
    accepted = [r for r in roster if r.status == "accepted" and r.report and r.report.submission]
    depts = {r.entity: r for r in accepted if r.kind == "dept"}
    projects = [r for r in accepted if r.kind == "project"]
    by_competent: dict[str, list[RosterRow]] = defaultdict(list)
    for p in projects:
        by_competent[p.competent].append(p)
    share = CROSS_RULES["cross.projects_vs_project_exp"]
    scale = CROSS_RULES["cross.scale.project_vs_dept"]
    views = {id(r): ahead.view(r.report) for r in accepted}  # type: ignore[arg-type]  # amounts parsed once per submission
    catalogued: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        if e.kind == "project":
            catalogued[e.competent].append(e.name)
    for name, dept in sorted(depts.items()):
        out += _task_ties(dept, by_competent.get(name, []), catalogued.get(name, []), views)
    for p in projects:
        head = depts.get(p.competent)
        if head is None:
            continue
        values = {"project_total": views[id(p)][0]["total"], "exp_project": views[id(head)][0]["exp_project"]}
        (o,) = evaluate(scale, values)
        if o.status in ("pass", "skip"):
            continue  # a plausibility test: only its alarms are listed
        sub = p.report.submission  # type: ignore[union-attr]
        out.append(_cross(o, p, sub.fields.get("total") if sub else None, _detail(o), p.path))
    for name, dept in sorted(depts.items()):
        dsub = dept.report.submission  # type: ignore[union-attr]
        assert dsub is not None
        dfields, _ = views[id(dept)]
        totals = [views[id(p)][0]["total"] or 0.0 for p in by_competent.get(name, [])]  # NaN stays: 无法校验
        values = {"projects_total": sum(totals) if totals else None, "exp_project": dfields["exp_project"]}
        (o,) = evaluate(share, values)
        detail = f"{len(totals)} 张项目表合计，与部门项目支出对照（项目表可只覆盖部分项目）" if totals else ""
        out.append(_cross(o, dept, dsub.fields.get("exp_project"), detail, dept.path))
    arrived = {id(r.catalog) for r in roster if r.catalog is not None and r.status == "accepted"}
    for e in entries:
        got = id(e) in arrived
        out.append(
            CrossCheck(
                rule_id="catalog.submitted",
                title="目录中的每一项都已提交",
                severity=Severity.ERROR,
                kind=e.kind,
                entity=e.name,
                competent=e.competent,
                status="pass" if got else "fail",
                detail="" if got else "未收到填报文件",
            )
        )
    return out


Views = dict[int, tuple[Numbers, dict[str, list[Numbers]]]]  # numeric_view of each accepted form, by id()


def _task_ties(dept: RosterRow, projects: list[RosterRow], catalogued: list[str], views: Views) -> list[CrossCheck]:
    """Each task row against the project forms it lists (their sum, when it lists several);
    names listed without a form, and forms no row lists, as hints."""
    tie = CROSS_RULES["cross.task_vs_project"]
    dsub = dept.report.submission  # type: ignore[union-attr]
    assert dsub is not None and dsub.data is not None
    _, dtables = views[id(dept)]
    forms = {normalise(p.entity): p for p in projects}
    out: list[CrossCheck] = []
    listed: set[str] = set()
    for i, row in enumerate(dsub.data.tables.get("tasks", [])):
        names, others = listed_projects(row.get("projects"), [*forms, *catalogued])
        matched = [forms[n] for n in names if n in forms]
        others += [n for n in names if n not in forms]  # catalogued, but no form (yet)
        listed.update(names)
        if matched:
            totals = [views[id(p)][0]["total"] for p in matched]
            present = [t for t in totals if t is not None]
            values = {"task_budget": dtables["tasks"][i]["budget"], "project_total": sum(present) if present else None}
            (o,) = evaluate(tie, values)
            parts = "、".join(f"{p.entity}（{_amount(t)}）" for p, t in zip(matched, totals, strict=True))
            detail = "；".join(x for x in (_detail(o), f"对照项目表：{parts}") if x)
            who = matched[0] if len(matched) == 1 else dept  # several forms: the department's row
            out.append(_cross(o, who, dsub.cell("tasks", i, "budget"), detail, dept.path))
        if others:
            where = dsub.cell("tasks", i, "projects")
            row_no = dsub.rows["tasks"][i] + 1
            out.append(_hint(dept, f"年度主要任务第 {row_no} 行列出的“{'、'.join(others)}”没有对应的项目表", where))
    for p in projects:
        if normalise(p.entity) not in listed:
            out.append(_hint(p, f"主管部门“{p.competent}”的年度主要任务中没有列出此项目"))
    return out


def _hint(row: RosterRow, detail: str, loc: Loc | None = None) -> CrossCheck:
    """A 提示 row of the task-row tie in 交叉校验 (not checked, not a finding)."""
    tie = CROSS_RULES["cross.task_vs_project"]
    return CrossCheck(
        rule_id=tie.id,
        title=tie.title,
        severity=Severity.INFO,
        kind=row.kind,
        entity=row.entity,
        competent=row.competent,
        status="skip",
        path=row.path,
        loc=loc,
        detail=detail,
    )


def _amount(v: float | None) -> str:
    return "空" if v is None else "无法识别" if v != v else f"{v:,.2f}"


def _detail(o: Outcome) -> str:
    from perfxl.check import rule_message

    return rule_message(o) if o.status in ("fail", "incomplete", "unchecked") else ""


def _cross(o: Outcome, row: RosterRow, loc: Loc | None, detail: str, path: Path | None) -> CrossCheck:
    return CrossCheck(
        rule_id=o.rule.id,
        title=o.rule.title,
        severity=o.rule.severity,
        kind=row.kind,
        entity=row.entity,
        competent=row.competent,
        status=o.status,
        left=o.left,
        right=o.right,
        detail=detail,
        path=path,
        loc=loc,
    )
