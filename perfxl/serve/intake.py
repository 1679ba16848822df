"""What the intake does, as library calls: set up a round, take in a file (upload or
inbox), submit it for review, return or approve it, and build the consolidated workbook
with the same functions `perfxl merge` uses. The web pages only call these.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfxl.catalog import read_catalog
from perfxl.check import FileReport
from perfxl.codes import finding_types
from perfxl.findings import Severity
from perfxl.forms import KIND_LABELS
from perfxl.output import safe_filename
from perfxl.serve.store import RETURN_REASONS, Entity, Store, findings_json, now
from perfxl.serve.worker import check_limited

MAX_UPLOAD = 20 * 1024 * 1024  # bytes; the real forms are ~40 KB


@dataclass(frozen=True)
class Links:
    workbook: Path  # the links to mail out, one row per entity
    tokens: dict[int, str]  # entity id → the secret (shown once, never stored)


def init_round(
    data: Path,
    catalog: Path,
    year: int,
    *,
    admin: str,
    password: str,
    base_url: str = "http://127.0.0.1:8000",
    deadline: str = "",
    indicators: Path | None = None,
) -> Links:
    """A new data folder: the catalog's entities with one secret link each, the admin account;
    with `indicators`, the bureau's common-indicator library for the round's templates and checks."""
    from perfxl.library import load_library

    entries = read_catalog(catalog)
    library = load_library(indicators)  # an unusable library: LibraryError before anything is created
    if (data / "perfxl.sqlite").exists():
        raise FileExistsError(f"{data} 已经有一个收集轮次")
    for sub in ("files", "inbox", "export", "annotated"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    store = Store(data)
    try:
        tokens: dict[int, str] = {}
        with store.tx():
            store.set_meta("year", str(year))
            store.set_meta("deadline", deadline)
            store.set_meta("created", now())
            store.set_meta(
                "catalog", catalog.read_bytes().decode("utf-8", "replace") if catalog.suffix == ".csv" else ""
            )
            shutil.copyfile(catalog, data / f"目录{catalog.suffix}")
            if indicators is not None:
                shutil.copyfile(indicators, data / LIBRARY_FILE)
            store.set_meta("indicators", f"{library.name} {library.sha256}")
            for e in entries:
                cur = store.db.execute(
                    "INSERT INTO entities (kind, category, seq, name, competent) VALUES (?, ?, ?, ?, ?)",
                    (e.kind, e.category, e.seq, e.name, e.competent),
                )
                assert cur.lastrowid is not None
                tokens[cur.lastrowid] = store.issue_link(cur.lastrowid)
            store.add_user(admin, "admin", password)
            store.log("系统", "", "创建收集轮次", f"{year} 年度，{len(entries)} 个对象")
        return Links(links_workbook(store, tokens, base_url, data / "上传链接.xlsx"), tokens)
    finally:
        store.close()


LIBRARY_FILE = "共性指标.csv"  # the bureau's library, when the round has its own


def library_path(store: Store) -> Path | None:
    """The round's common-indicator library (None: the packaged one)."""
    path = store.data / LIBRARY_FILE
    return path if path.exists() else None


def check(store: Store, path: Path) -> FileReport:
    """A file checked as this round checks: its year, its library, in a worker with limits."""
    return check_limited(path, store.year or None, indicators=library_path(store))


def links_workbook(store: Store, tokens: dict[int, str], base_url: str, out: Path) -> Path:
    """The links as a workbook the bureau mails out (links are text: never formulas)."""
    import xlsxwriter

    from perfxl.output import atomic_write

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": __import__("datetime").datetime(2024, 1, 1)})
    ws = wb.add_worksheet("上传链接")
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    ws.write_row(0, 0, ["类别", "序号", "名称", "主管部门", "上传链接（请勿转发）"], bold)
    for i, e in enumerate((e for e in store.entities() if e.id in tokens), start=1):
        ws.write_row(i, 0, [e.category, e.seq, e.name, e.competent, f"{base_url.rstrip('/')}/d/{tokens[e.id]}"])
    ws.set_column(0, 0, 14)
    ws.set_column(2, 3, 36)
    ws.set_column(4, 4, 90)
    wb.close()
    atomic_write(out, buf.getvalue())
    return out


# ----- taking a file in -----------------------------------------------------------------


def store_file(data: Path, raw: bytes) -> str:
    """Keep the bytes under their SHA-256 (written once; an identical upload shares the file)."""
    sha = hashlib.sha256(raw).hexdigest()
    path = data / "files" / sha
    if not path.exists():  # two uploads of the same bytes at once: each its own temporary file
        tmp = path.with_name(f".{sha}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        tmp.write_bytes(raw)
        try:
            _place(tmp, path)  # the first one stays: a file in use is never replaced
        finally:
            tmp.unlink(missing_ok=True)
    return sha


def _place(src: Path, dst: Path) -> None:
    """`dst` with `src`'s bytes, unless it exists: a hard link, else (a file system without them)
    a copy renamed into place. Concurrent uploads of the same bytes place the same content, so
    whoever comes first wins and nobody fails (a CI run once saw a link race end in a 500)."""
    if dst.exists():
        return
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        return
    except OSError:
        pass
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def stored(data: Path, sha: str, ext: str) -> Path:
    """A stored file under the name the checker reads it by: its hash and the client's suffix
    (a hard link to files/<sha256>)."""
    return data / "files" / f"{sha}{ext}"


def take_in(store: Store, entity: Entity, raw: bytes, filename: str, *, source: str, purpose: str, ip: str = "") -> int:
    """Store a file for an entity, check it, record the version; returns its number (1, 2, …).
    `purpose` is 自查 (check only) or 提交 (submit too, when nothing blocks it)."""
    ext = Path(filename).suffix.lower()
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ".bin"  # the reader judges by suffix and content
    sha = store_file(store.data, raw)
    checked = stored(store.data, sha, ext)
    _place(store.data / "files" / sha, checked)  # the same bytes under the same name as the reader wants it
    report = check(store, checked)
    rows = _findings(report, entity)
    counts = {s: sum(r["severity"] == s.value for r in rows) for s in Severity}
    template = report.submission.meta.spec_version if report.submission else ""
    with store.tx() as db:
        n = int(db.execute("SELECT coalesce(max(n), 0) FROM uploads WHERE entity_id = ?", (entity.id,)).fetchone()[0])
        same = db.execute(
            "SELECT n FROM uploads WHERE entity_id = ? AND sha256 = ? ORDER BY n LIMIT 1", (entity.id, sha)
        ).fetchone()
        status = "无法读取" if report.status == "rejected" else "有错误" if counts[Severity.ERROR] else (
            "有警告" if counts[Severity.WARNING] else "通过")  # fmt: skip
        db.execute(
            "INSERT INTO uploads (entity_id, n, sha256, filename, ext, size, at, source, purpose, status, errors,"
            " warnings, infos, findings, template, same_as, by_ip) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (entity.id, n + 1, sha, _safe_name(filename), ext, len(raw), now(), source, purpose, status,
             counts[Severity.ERROR], counts[Severity.WARNING], counts[Severity.INFO], findings_json(rows), template,
             same[0] if same else None, ip),
        )  # fmt: skip
        store.log(f"{KIND_LABELS.get(entity.kind, entity.kind)}：{entity.name}", ip, f"上传（{purpose}）",
                  f"第 {n + 1} 版 {sha[:12]} {status}")  # fmt: skip
    return n + 1


def _findings(report: FileReport, entity: Entity) -> list[dict[str, Any]]:
    """The report's findings as stored, plus whether the file is this entity's form at all."""
    types = finding_types()
    rows = []
    for f in report.findings:
        d = f.to_dict()
        d["file"] = ""  # the server's storage path is nobody's business
        t = types.get(f.rule)
        d["advice"] = t.advice if t else ""
        rows.append(d)
    if report.status != "rejected" and report.submission is not None:
        from perfxl.values import normalise

        if (report.kind and report.kind != entity.kind) or (
            report.entity and normalise(report.entity) != normalise(entity.name)
        ):
            what = f"{KIND_LABELS.get(report.kind or '', '')}“{report.entity}”"
            rows.insert(0, {
                "rule": "intake.wrong_entity", "severity": "error", "sheet": "", "cell": "", "key": "",
                "message": f"上传的是{what}的表，不是本单位（{entity.name}）的表", "expected": entity.name,
                "actual": report.entity, "advice": types["intake.wrong_entity"].advice,
            })  # fmt: skip
    return rows


def _safe_name(name: str) -> str:
    """A client's file name, for showing only: no folders, no control characters, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:120] or "未命名"


def submit(store: Store, entity: Entity, n: int, explanation: str, ip: str = "") -> str:
    """提交审核: '' when done, else why not (errors block; warnings need a 说明)."""
    row = store.upload(entity.id, n)
    if row is None:
        return "没有这一版"
    if row["status"] == "无法读取" or int(row["errors"]):
        return "这一版有错误，改正后重新上传再提交"
    explanation = explanation.strip()[:2000]
    if int(row["warnings"]) and not explanation:
        return "这一版有警告：请在“说明”中写明原因后再提交"
    with store.tx() as db:
        db.execute("UPDATE uploads SET submitted_at = ?, explanation = ? WHERE id = ?", (now(), explanation, row["id"]))
        store.log(f"{KIND_LABELS.get(entity.kind, entity.kind)}：{entity.name}", ip, "提交审核", f"第 {n} 版")
    return ""


def decide(store: Store, entity: Entity, action: str, reasons: list[str], note: str, who: str, ip: str = "") -> str:
    """退回 or 通过 the entity's newest submitted version."""
    row = store.latest_submitted().get(entity.id)
    if row is None:
        return "该对象还没有提交审核的版本"
    if action not in ("退回", "通过"):
        return "未知操作"
    reasons = [r for r in reasons if r in RETURN_REASONS]
    if action == "退回" and not (reasons or note.strip()):
        return "退回时请选择原因或填写说明"
    with store.tx() as db:
        db.execute(
            "INSERT INTO decisions (entity_id, upload_id, action, reasons, note, by_user, at) VALUES (?,?,?,?,?,?,?)",
            (entity.id, row["id"], action, "；".join(reasons), note.strip()[:2000], who, now()),
        )
        store.log(who, ip, action, f"{entity.name} 第 {row['n']} 版")
    return ""


def state(store: Store, entity: Entity) -> str:
    """未提交 / 有错误 / 有警告 / 已提交 / 已退回 / 已通过, as the roster shows it."""
    uploads = store.uploads(entity.id)
    decisions = store.decisions(entity.id)
    submitted = next((u for u in uploads if u["submitted_at"]), None)
    return _state(uploads[0] if uploads else None, submitted, decisions[0] if decisions else None)


def states(store: Store) -> dict[int, tuple[str, Any, int]]:
    """Every entity's state, newest upload and number of uploads, in three queries (the roster
    of a county has thousands of rows)."""
    latest: dict[int, Any] = {}
    submitted: dict[int, Any] = {}
    count: dict[int, int] = {}
    for u in store.db.execute("SELECT * FROM uploads ORDER BY entity_id, n"):
        i = int(u["entity_id"])
        latest[i] = u
        count[i] = count.get(i, 0) + 1
        if u["submitted_at"]:
            submitted[i] = u
    decided = {int(d["entity_id"]): d for d in store.db.execute("SELECT * FROM decisions ORDER BY id")}
    return {
        e.id: (_state(latest.get(e.id), submitted.get(e.id), decided.get(e.id)), latest.get(e.id), count.get(e.id, 0))
        for e in store.entities()
    }


def _state(latest: Any, submitted: Any, decision: Any) -> str:
    if submitted is not None:
        if decision is not None and decision["upload_id"] == submitted["id"]:
            return "已通过" if decision["action"] == "通过" else "已退回"
        return "已提交"
    if latest is None:
        return "未提交"
    return "有错误" if latest["status"] in ("有错误", "无法读取") else "有警告" if latest["warnings"] else "未提交"


# ----- the drop folder --------------------------------------------------------------------


def take_inbox(store: Store) -> tuple[int, list[str]]:
    """Files dropped in DATA/inbox (e-mail attachments) go the same way as uploads, submitted
    when nothing blocks it; a file that names no catalog entry stays, with the reason."""
    inbox = store.data / "inbox"
    done = inbox / "已接收"
    taken, left = 0, []
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        raw = path.read_bytes()
        report = check(store, path)
        entity = store.find_entity(report.kind, report.entity) if report.entity else None
        if entity is None:
            left.append(f"{path.name}：无法对应到目录中的对象（{report.entity or '未识别出名称'}）")
            continue
        n = take_in(store, entity, raw, path.name, source="收件箱", purpose="提交")
        submit(store, entity, n, "（由收件箱接收）")
        done.mkdir(exist_ok=True)
        os.replace(path, done / f"{now().replace(':', '').replace(' ', '_')}_{path.name}")
        taken += 1
    return taken, left


# ----- the consolidated workbook ----------------------------------------------------------


def export(store: Store, round_date: str = "") -> tuple[Path, Path]:
    """The consolidated workbook and JSON over each entity's newest submitted version: the
    files staged under names from the catalog, then `merge` + `write_consolidated` exactly as
    `perfxl merge export/提交 --catalog 目录.csv --year Y -o export/汇总.xlsx` would, with
    the previous export as the previous round and the notes typed in the browser on top."""
    from perfxl.merging import fewer_collections

    with fewer_collections():  # through the JSON: its result's objects are gone before the collector runs
        return _export(store, round_date)


def _export(store: Store, round_date: str) -> tuple[Path, Path]:
    from perfxl.consolidated import write_consolidated
    from perfxl.merging import Aside, auto_jobs, merge, previous_round
    from perfxl.review import Notes, keep_copy

    out_dir = store.data / "export"
    output = out_dir / "汇总.xlsx"
    cache = out_dir / ".汇总.cache.sqlite"  # as the CLI's default: unchanged files are not checked again
    # the previous export as kept when it was written, or read in another process from the start,
    # while the files are staged and checked
    reading = previous_round(output, cache) if output.exists() else None
    try:
        staged = stage(store)
        jobs = auto_jobs(len(store.latest_submitted()))  # as `perfxl merge` chooses; the bytes do not depend on it
        notes = {k: Notes(r["checked"], r["advice"], r["disposition"]) for k, r in store.notes().items()}
        result = merge(
            [staged],
            catalog=catalog_path(store),
            year=store.year or None,
            previous=reading,
            indicators=library_path(store),
            round_date=round_date,
            notes=notes,
            cache=cache,
            jobs=jobs,
        )
    finally:  # the merge closes it; here too, should the merge not have started
        if isinstance(reading, Aside):
            reading.close()
    if result.previous is not None:
        keep_copy(output, result.previous)
    write_consolidated(result, output, jobs=jobs, cache=cache, json_path=out_dir / "汇总.json")
    # the merge's millions of small objects are freed by a thread of their own (0.1 s at 2,000),
    # not by the request that asked for the export
    held: list[Any] = [result, reading]
    del result, reading
    threading.Thread(target=held.clear, name="perfxl-free", daemon=True).start()
    return output, out_dir / "汇总.json"


def catalog_path(store: Store) -> Path:
    return next(p for p in store.data.glob("目录.*"))


def stage(store: Store) -> Path:
    """export/提交/<序号>_<名称>.<ext>: each entity's newest submitted file, named by the catalog.
    A name that already holds that very file (a hard link from the last export) is left as it
    is: the merge's cache then knows it untouched and does not read it again to hash it."""
    folder = store.data / "export" / "提交"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    by_id = {e.id: e for e in store.entities()}
    wanted: dict[str, Path] = {}
    for entity_id, row in sorted(store.latest_submitted().items()):
        e = by_id[entity_id]
        wanted[f"{KIND_LABELS[e.kind]}_{e.seq}_{safe_filename(e.name)}{row['ext']}"] = (
            store.data / "files" / row["sha256"]
        )
    for p in list(folder.iterdir()):
        src = wanted.get(p.name)
        if src is not None and not p.is_symlink() and p.is_file() and _same_file(p, src):
            del wanted[p.name]
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    for name, src in wanted.items():
        target = folder / name
        try:
            os.link(src, target)
        except OSError:
            shutil.copyfile(src, target)
    return folder


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def import_notes(store: Store, workbook: Path, who: str, ip: str = "") -> int:
    """Notes typed into a consolidated workbook (Excel, WPS, LibreOffice) join the browser's:
    one set, by 问题编号; a note typed in the workbook replaces the browser's for that problem."""
    from perfxl.review import read_notes

    found = read_notes(workbook)
    with store.tx():
        for key, n in found.items():
            store.set_note(key, n.checked, n.advice, n.disposition, who)
        store.log(who, ip, "导入审核意见", f"{len(found)} 条")
    return len(found)


def report_rows(row: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(row["findings"])
    return rows
