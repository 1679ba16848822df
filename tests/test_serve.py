"""`perfxl serve`: the intake's library calls and its pages through Flask's test client:
who may see what (IDOR), CSRF and request limits, upload → findings → submit, the
consolidated workbook byte-identical to `perfxl merge`, notes in both directions."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from regression import base, build, cases

from perfxl.cli import main
from perfxl.exchange import fill_file
from perfxl.review import read_notes
from perfxl.serve import intake, ops
from perfxl.serve.store import Store
from perfxl.serve.web import create_app
from perfxl.serve.worker import check_limited

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MZ = "济南市历下区民政局"
FUNV = "妇女儿童工作专项经费"
PASSWORD = "correct horse battery"


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A round over the samples' catalog; links by entity name."""
    folder = tmp_path / "data"
    links = intake.init_round(folder, SAMPLES / "catalog.csv", 2024, admin="admin", password=PASSWORD)
    store = Store(folder)
    names = {e.id: e.name for e in store.entities()}
    store.add_user("审核甲", "auditor", PASSWORD)
    store.add_user("只读乙", "viewer", PASSWORD)
    store.close()
    return folder, {names[i]: t for i, t in links.tokens.items()}


def client(folder: Path, csrf: bool = False) -> FlaskClient:
    app = create_app(folder, testing=True)
    app.config["WTF_CSRF_ENABLED"] = csrf
    return app.test_client()


def as_dept(folder: Path, token: str) -> FlaskClient:
    c = client(folder)
    r = c.get(f"/d/{token}")
    assert r.status_code == 303 and r.headers["Location"].endswith("/my")
    return c


def as_staff(folder: Path, name: str = "admin") -> FlaskClient:
    c = client(folder)
    assert c.post("/login", data={"name": name, "password": PASSWORD}).status_code == 303
    return c


@contextmanager
def live(folder: Path) -> Iterator[str]:
    """The app under waitress on a free loopback port, as `perfxl serve` runs it."""
    from perfxl.serve.web import server

    srv = server(create_app(folder), "127.0.0.1", 0)
    closing = threading.Event()

    def run() -> None:
        try:
            srv.run()
        except Exception:  # closed from the test's thread while the loop waited: whatever it says then
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}"
    finally:
        closing.set()
        srv.task_dispatcher.shutdown(cancel_pending=False, timeout=10)  # let running requests finish
        for channel in list(srv._map.values()):  # the listener, the trigger and any open connection:
            with suppress(Exception):  # closed here, not left for the garbage collector to warn about
                channel.close()
        thread.join(5)


def upload(c: FlaskClient, path: Path, action: str = "check") -> Any:
    with path.open("rb") as f:
        return c.post("/my/upload", data={"file": (f, path.name), "action": action}, content_type="multipart/form-data")


def test_the_link_becomes_a_session_and_never_travels_further(data: tuple[Path, dict[str, str]]) -> None:
    folder, links = data
    c = client(folder)
    r = c.get(f"/d/{links[MZ]}")
    assert r.headers["Location"] == "/my" and links[MZ] not in r.headers["Location"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = c.get("/my")
    assert MZ in page.text and links[MZ] not in page.text
    for h in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert h in page.headers
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert client(folder).get("/d/not-a-real-link").status_code == 403
    store = Store(folder)
    assert links[MZ] not in (folder / "perfxl.sqlite").read_bytes().decode("latin-1")  # only its hash is kept
    assert all(links[MZ] not in str(row["detail"]) for row in store.audit())
    store.close()


def test_a_department_sees_only_itself(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Every route a department could try for another entity, or for the bureau (IDOR)."""
    folder, links = data
    other = as_dept(folder, links[FUNV])
    upload(other, SAMPLES / f"项目支出_01_{FUNV}.xlsx", "submit")
    mine = as_dept(folder, links[MZ])
    assert mine.get("/my/v/1").status_code == 404  # 妇女儿童's version 1 is not 民政局's
    assert mine.get("/my/v/1/annotated").status_code == 404
    assert mine.get("/my/v/1/receipt").status_code == 404
    assert FUNV not in mine.get("/my").text
    for url in ("/roster", "/e/1", "/e/4/v/1/file", "/export", "/export/汇总.xlsx", "/export/annotated.zip", "/audit"):
        r = mine.get(url)
        assert r.status_code == 303 and r.headers["Location"].endswith("/login"), url
    for url in ("/e/4/decide", "/e/4/note", "/e/4/link", "/export", "/inbox", "/export/notes"):
        r = mine.post(url, data={"action": "通过", "key": "X"})
        assert r.status_code == 303 and r.headers["Location"].endswith("/login"), url
    viewer = as_staff(folder, "只读乙")
    assert viewer.get("/roster").status_code == 200
    assert viewer.post("/e/4/decide", data={"action": "通过"}).status_code == 403
    assert viewer.post("/e/4/note", data={"key": "X"}).status_code == 403
    assert viewer.get("/audit").status_code == 403
    assert as_staff(folder, "审核甲").post("/e/4/link").status_code == 403  # links: 管理员 only


def test_upload_check_and_submit(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Errors block submitting; warnings need a 说明; every version is kept; identical ones noted."""
    folder, links = data
    c = as_dept(folder, links[MZ])
    bad_case = next(x for x in cases() if x.name == "value.malformed_number_D")
    bad = fill_file(build(bad_case.name, bad_case.base, bad_case.change), tmp_path / "民政局_有错.xlsx")
    r = upload(c, bad, "submit")
    assert r.headers["Location"].endswith("/my/v/1")
    page = c.get("/my/v/1").text
    assert "数值“1OO" in page and "这一版有错误，不能提交" in page
    assert "如何修改" in page and "按提示改正数字" in page
    assert c.post("/my/v/1/submit", data={"explanation": "x"}).status_code == 303
    store = Store(folder)
    entity = store.find_entity("dept", MZ)
    assert entity is not None and store.upload(entity.id, 1)["submitted_at"] is None  # type: ignore[index]
    seed = SAMPLES / f"部门整体_02_{MZ}.xlsx"  # warnings only
    upload(c, seed, "submit")
    assert intake.state(store, entity) == "有警告"  # not submitted: the warnings need a 说明
    assert "警告说明" in c.get("/my/v/2").text
    c.post("/my/v/2/submit", data={"explanation": ""})
    assert store.upload(entity.id, 2)["submitted_at"] is None  # type: ignore[index]
    c.post("/my/v/2/submit", data={"explanation": "任务表只列主要任务，差额为零星项目"})
    assert intake.state(store, entity) == "已提交"
    upload(c, seed)  # the same bytes again
    assert store.upload(entity.id, 3)["same_as"] == 2  # type: ignore[index]
    assert len(store.uploads(entity.id)) == 3 and len(list((folder / "files").glob("?" * 64))) == 2
    receipt = c.get("/my/v/2/receipt").text
    assert store.upload(entity.id, 2)["sha256"] in receipt and "接收回执" in receipt  # type: ignore[index]
    annotated = c.get("/my/v/1/annotated")
    assert annotated.status_code == 200 and annotated.headers["Content-Disposition"].startswith("attachment")
    assert annotated.data[:2] == b"PK"
    template = c.get("/my/template")
    assert template.headers["Content-Disposition"].startswith("attachment") and template.data[:2] == b"PK"
    store.close()


def test_posts_need_a_csrf_token_and_this_site(data: tuple[Path, dict[str, str]]) -> None:
    folder, _links = data
    c = client(folder, csrf=True)
    assert c.post("/login", data={"name": "admin", "password": PASSWORD}).status_code == 400  # no token
    page = c.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    cross = c.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token},
                   headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert cross.status_code == 403
    ok = c.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token},
                headers={"Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert ok.status_code == 303


def test_request_size_and_login_attempts_are_limited(data: tuple[Path, dict[str, str]]) -> None:
    folder, _links = data
    with live(folder) as url:  # a real server: the cap is judged from the header, before any body is sent
        host, port = url.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /my/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                b"Content-Length: 31457280\r\n\r\n"
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    s = client(folder)
    codes = [s.post("/login", data={"name": "admin", "password": "wrong"}).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert s.post("/login", data={"name": "admin", "password": PASSWORD}).status_code == 429  # even the right one


def test_a_reissued_link_ends_the_old_sessions(data: tuple[Path, dict[str, str]]) -> None:
    folder, links = data
    old = as_dept(folder, links[MZ])
    admin = as_staff(folder)
    store = Store(folder)
    entity = store.find_entity("dept", MZ)
    store.close()
    assert entity is not None
    page = admin.post(f"/e/{entity.id}/link").text
    new = re.search(r"/d/([A-Za-z0-9_-]{40,})", page).group(1)  # type: ignore[union-attr]
    assert old.get("/my").status_code == 403
    assert client(folder).get(f"/d/{links[MZ]}").status_code == 403
    assert as_dept(folder, new).get("/my").status_code == 200


def test_hostile_uploads_are_findings_and_limits_hold(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, links = data
    c = as_dept(folder, links[MZ])
    junk = tmp_path / "不是工作簿.xlsx"
    junk.write_bytes(b"\x00" * 1000)
    upload(c, junk, "submit")
    assert "无法读取" in c.get("/my/v/1").text
    slow = check_limited(SAMPLES / f"部门整体_02_{MZ}.xlsx", 2024, timeout=0.0)
    assert slow.status == "rejected" and "超时" in slow.findings[0].message
    ok = check_limited(SAMPLES / f"部门整体_02_{MZ}.xlsx", 2024)
    assert ok.status != "rejected" and ok.entity == MZ
    wrong = as_dept(folder, links[FUNV])
    upload(wrong, SAMPLES / f"部门整体_02_{MZ}.xlsx", "submit")
    assert "不是本单位" in wrong.get("/my/v/1").text


def test_upload_workers_are_used_again_and_judge_as_a_fresh_check() -> None:
    """A worker checks upload after upload (a process per upload cost more than the check);
    its reports are what `check` gives in-process, whatever it checked before, and a used worker
    that died while idle costs nothing: the file goes to a fresh one."""
    import signal

    from perfxl.check import check_paths
    from perfxl.serve import worker

    samples = sorted(SAMPLES.glob("*.xlsx"))[:4]
    expected = [[f.to_dict() for f in r.findings] for r in check_paths(samples, year=2024).files]
    for _ in range(2):
        got = [check_limited(p, 2024) for p in samples]
        assert [[f.to_dict() for f in r.findings] for r in got] == expected
    used = [w for w in worker._POOL._idle if w.jobs > 1]
    assert used, "no worker was used twice"
    for w in worker._POOL._idle:  # dead, but not yet noticed: the next check finds it so
        os.kill(w.proc.pid, signal.SIGKILL)
        w.proc.join(5)
        w.proc.is_alive = lambda: True  # type: ignore[method-assign]
    again = check_limited(samples[0], 2024)
    assert again.status != "rejected" and [f.to_dict() for f in again.findings] == expected[0]


def test_a_round_with_the_bureaus_own_common_indicators(tmp_path: Path) -> None:
    """`serve init --indicators`: the departments' templates are prefilled with the bureau's
    standard, uploads and the export are checked against it (the export still equals `perfxl merge
    --indicators`); an unusable library creates nothing."""
    import io

    import openpyxl

    from perfxl.library import DEFAULT, LibraryError

    own = tmp_path / "我们的共性指标.csv"
    own.write_text(
        DEFAULT.read_text(encoding="utf-8").replace("结转结余率,≤,9,%", "结转结余率,≤,15,%"), encoding="utf-8"
    )
    bad = tmp_path / "坏的.csv"
    bad.write_text("三级指标,数值\n结转结余率,9\n", encoding="utf-8")
    with pytest.raises(LibraryError):
        intake.init_round(tmp_path / "nothing", SAMPLES / "catalog.csv", 2024, admin="a", password=PASSWORD,
                          indicators=bad)  # fmt: skip
    assert not (tmp_path / "nothing").exists()
    folder = tmp_path / "data"
    links = intake.init_round(folder, SAMPLES / "catalog.csv", 2024, admin="admin", password=PASSWORD, indicators=own)
    store = Store(folder)
    token = next(links.tokens[e.id] for e in store.entities() if e.name == MZ)
    store.close()
    dept = as_dept(folder, token)
    ws = openpyxl.load_workbook(io.BytesIO(dept.get("/my/template").data))["年度绩效指标"]
    row = next(r for r in ws.iter_rows(values_only=True) if "结转结余率" in r)
    assert 15 in row and 9 not in row
    upload(dept, SAMPLES / f"部门整体_02_{MZ}.xlsx")
    assert "共性指标“结转结余率”的目标 ≤9 % 与区级标准 ≤15% 不一致" in dept.get("/my/v/1").text
    ops.load_demo(folder)
    assert as_staff(folder).post("/export").status_code == 303
    web = (folder / "export" / "汇总.xlsx").read_bytes()
    (folder / "export" / "汇总.xlsx").unlink()
    cli = CliRunner().invoke(main, ["merge", str(folder / "export" / "提交"), "--catalog", str(folder / "目录.csv"),
                                    "--year", "2024", "-o", str(folder / "export" / "汇总.xlsx"), "--indicators",
                                    str(folder / "共性指标.csv"), "--fresh", "--no-cache", "-q"])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert (folder / "export" / "汇总.xlsx").read_bytes() == web
    sheets = openpyxl.load_workbook(io.BytesIO(web))["共性指标对照"]
    assert any("※≤9 %" in str(c) for r in sheets.iter_rows(values_only=True) for c in r)
    about = " ".join(str(c) for r in openpyxl.load_workbook(io.BytesIO(web))["说明"].iter_rows(values_only=True)
                     for c in r if c)  # fmt: skip
    assert "共性指标.csv（16 条" in about


def test_the_consolidated_workbook_is_what_perfxl_merge_writes(data: tuple[Path, dict[str, str]]) -> None:
    """Byte-identical to the CLI over the same accepted files; a note typed in the browser is
    in it; notes typed in the workbook come back as the browser's."""
    folder, links = data
    assert ops.load_demo(folder) == 10
    admin = as_staff(folder)
    assert admin.post("/export").status_code == 303
    web = (folder / "export" / "汇总.xlsx").read_bytes()
    web_json = (folder / "export" / "汇总.json").read_bytes()
    shutil.move(folder / "export" / "汇总.xlsx", folder / "web.xlsx")
    staged = folder / "export" / "提交"
    cli = CliRunner().invoke(main, ["merge", str(staged), "--catalog", str(folder / "目录.csv"), "--year", "2024",
                                    "-o", str(folder / "export" / "汇总.xlsx"), "--json", str(folder / "cli.json"),
                                    "--fresh", "--no-cache", "-q"])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert (folder / "export" / "汇总.xlsx").read_bytes() == web
    assert (folder / "cli.json").read_bytes() == web_json
    shutil.move(folder / "web.xlsx", folder / "export" / "汇总.xlsx")

    store = Store(folder)
    entity = store.find_entity("project", "两馆免费开放")
    assert entity is not None
    key = next(f["key"] for f in intake.report_rows(store.latest_submitted()[entity.id]) if f["key"])
    store.close()
    auditor = as_staff(folder, "审核甲")
    auditor.post(
        f"/e/{entity.id}/note",
        data={"key": key, "checked": "已电话核实", "advice": "下轮修正", "disposition": "属实待整改"},
    )
    auditor.post("/export")
    notes = read_notes(folder / "export" / "汇总.xlsx")
    assert (notes[key].checked, notes[key].disposition) == ("已电话核实", "属实待整改")
    assert list(folder.joinpath("export").glob("汇总_第1轮_*.xlsx"))  # the previous export kept, as the CLI does
    dept = as_dept(folder, links["两馆免费开放"])
    assert "已电话核实" in dept.get("/my").text  # addressed to the department too


def test_staging_keeps_what_is_already_there(data: tuple[Path, dict[str, str]]) -> None:
    """The export's folder of submitted files is brought up to date, not rebuilt: a name that holds
    its entity's newest file stays untouched (same inode: the merge cache need not hash it again);
    a wrong file under a right name, strays and folders go."""
    import os

    folder, _links = data
    assert ops.load_demo(folder) == 10
    store = Store(folder)
    try:
        staged = intake.stage(store)
        names = sorted(p.name for p in staged.iterdir())
        assert len(names) == 10
        inodes = {p.name: p.stat().st_ino for p in staged.iterdir()}
        victim = staged / names[0]
        victim.unlink()
        victim.write_bytes(b"not the submitted file")
        (staged / "stray.xlsx").write_bytes(b"x")
        (staged / "sub").mkdir()
        assert intake.stage(store) == staged
        assert sorted(p.name for p in staged.iterdir()) == names
        for p in staged.iterdir():
            sha = store.latest_submitted()[next(e.id for e in store.entities() if p.name.endswith(
                f"{e.seq}_{intake.safe_filename(e.name)}{p.suffix}"))]["sha256"]  # fmt: skip
            assert os.path.samefile(p, folder / "files" / sha)
            assert p == victim or p.stat().st_ino == inodes[p.name]
    finally:
        store.close()


def test_the_inbox_takes_files_like_uploads(data: tuple[Path, dict[str, str]]) -> None:
    folder, _links = data
    shutil.copy(SAMPLES / f"项目支出_01_{FUNV}.xlsx", folder / "inbox" / "邮件附件.xlsx")
    (folder / "inbox" / "别人的.xlsx").write_bytes(b"not a form")
    admin = as_staff(folder)
    admin.post("/inbox")
    page = admin.get("/roster").text
    assert re.search(rf"{FUNV}</a></td>\s*<td>[^<]*</td><td>已提交</td>", page)
    assert (folder / "inbox" / "别人的.xlsx").exists() and not (folder / "inbox" / "邮件附件.xlsx").exists()


def test_backup_and_restore_keep_everything(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, links = data
    c = as_dept(folder, links[MZ])
    upload(c, SAMPLES / f"部门整体_02_{MZ}.xlsx")
    runner = CliRunner()
    assert runner.invoke(main, ["serve", "backup", str(folder), str(tmp_path / "b.zip")]).exit_code == 0
    assert runner.invoke(main, ["serve", "restore", str(tmp_path / "b.zip"), str(tmp_path / "again")]).exit_code == 0
    again = as_dept(tmp_path / "again", links[MZ])  # the same link, the same secret key, the same data
    assert "第 1 版" in again.get("/my").text
    assert runner.invoke(main, ["serve", "restore", str(tmp_path / "b.zip"), str(tmp_path / "again")]).exit_code == 2


def test_clean_department_form_submits_without_a_note(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, links = data
    c = as_dept(folder, links[MZ])
    upload(c, fill_file(base("D"), tmp_path / "民政局.xlsx"), "submit")
    store = Store(folder)
    entity = store.find_entity("dept", MZ)
    assert entity is not None and intake.state(store, entity) == "已提交"
    store.close()


# ----- reliability: many uploads at once, a killed server --------------------------------


class Browserless:
    """A department's client over real HTTP: cookies, the CSRF token, multipart uploads."""

    def __init__(self, url: str, token: str) -> None:
        import http.cookiejar
        import urllib.request

        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        self.get(f"/d/{token}")
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/my")[1]).group(1)  # type: ignore[union-attr]

    def get(self, path: str) -> tuple[int, str]:
        import urllib.error

        try:
            with self.opener.open(self.url + path, timeout=60) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, ""

    def upload(self, name: str, raw: bytes, action: str = "check") -> int:
        """The status code; a stored upload answers 303 to its result page (/my/v/N)."""
        import urllib.error
        import urllib.request

        boundary = "----perfxl" + secrets_hex()
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{self.csrf}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="action"\r\n\r\n{action}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + raw
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        req = urllib.request.Request(
            self.url + "/my/upload", data=b"".join(parts), method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Sec-Fetch-Site": "same-origin"},
        )  # fmt: skip
        try:
            with self.opener.open(req, timeout=120) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            if e.code == 303 and not re.search(r"/my/v/\d+$", e.headers.get("Location", "")):
                return 0  # answered, but not stored
            return int(e.code)


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(8)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 303 is an answer here, not something to follow


def test_concurrent_uploads_are_all_stored_and_accounted_for(data: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """8 departments × 6 uploads at once (good forms, broken files, not workbooks): every one
    answered (no 5xx), every one stored as a version. The full-size run is in bench/."""
    from hostile.corpus import build as hostile

    folder, links = data
    bad = hostile(tmp_path / "hostile")
    files = [SAMPLES / f"部门整体_02_{MZ}.xlsx", *[tmp_path / "hostile" / n for n in sorted(bad)][:5]]
    names = sorted(links)[:8]
    answers: list[int] = []
    with live(folder) as url:
        clients = [Browserless(url, links[n]) for n in names]

        def work(c: Browserless) -> None:
            for f in files:
                answers.append(c.upload(f.name, f.read_bytes()))

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    errors = folder / "errors.log"
    assert answers == [303] * (len(names) * len(files)), errors.read_text(encoding="utf-8") if errors.exists() else ""
    store = Store(folder)
    total = store.db.execute("SELECT count(*) FROM uploads").fetchone()[0]
    per = store.db.execute("SELECT count(DISTINCT entity_id), max(n) FROM uploads").fetchone()
    store.close()
    assert (total, per[0], per[1]) == (len(names) * len(files), len(names), len(files))


def test_the_same_bytes_stored_at_once_from_many_threads(tmp_path: Path) -> None:
    """Uploads of identical bytes race to store and place one file: none of them fails, and
    the file is whole whoever came first (a CI run once saw this race end in a 500)."""
    (tmp_path / "files").mkdir()
    raw = (SAMPLES / f"部门整体_02_{MZ}.xlsx").read_bytes()
    failures: list[BaseException] = []
    start = threading.Barrier(12)

    def one() -> None:
        try:
            start.wait()
            for _ in range(20):
                sha = intake.store_file(tmp_path, raw)
                intake._place(tmp_path / "files" / sha, intake.stored(tmp_path, sha, ".xlsx"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    names = sorted(p.name for p in (tmp_path / "files").iterdir())
    assert len(names) == 2 and not any(n.endswith(".tmp") for n in names)
    assert all(p.read_bytes() == raw for p in (tmp_path / "files").iterdir())


def test_a_killed_server_loses_no_earlier_upload(data: tuple[Path, dict[str, str]]) -> None:
    """SIGKILL in the middle of an upload: the database stays consistent, every finished
    upload is still there after a restart, and the server takes uploads again."""
    import signal
    import subprocess
    import sys
    import time

    folder, links = data
    port = _free_port()

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfxl.cli", "serve", str(folder), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc
            except OSError:
                time.sleep(0.1)
        proc.kill()
        proc.wait(10)
        raise AssertionError("server did not start")

    url = f"http://127.0.0.1:{port}"
    proc = start()
    try:
        c = Browserless(url, links[MZ])
        raw = (SAMPLES / f"部门整体_02_{MZ}.xlsx").read_bytes()
        assert [c.upload(f"v{i}.xlsx", raw) for i in range(3)] == [303, 303, 303]
        with socket.create_connection(("127.0.0.1", port)) as sock:  # an upload that never finishes
            sock.sendall(b"POST /my/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                         b"Content-Length: 900000\r\n\r\n--b\r\n" + raw[:20000])  # fmt: skip
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)  # reaped in every case: no process left behind for the next test
    store = Store(folder)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [u["n"] for u in store.uploads(store.find_entity("dept", MZ).id)] == [3, 2, 1]  # type: ignore[union-attr]
    store.close()
    proc = start()
    try:
        c = Browserless(url, links[MZ])
        assert c.upload("v4.xlsx", raw) == 303
        assert "第 4 版" in c.get("/my")[1]
    finally:
        proc.kill()
        proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
