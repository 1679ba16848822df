"""The intake's pages: Flask, server-rendered, plain forms, post-redirect-get.

Two kinds of visitor. A department arrives through its secret link, which is exchanged for
a session cookie at once (the link never appears in another URL, and no page sends a
Referer); it sees its own entity and nothing else. Bureau staff log in (管理员 / 审核员 /
只读). Every POST carries a CSRF token and must come from this site (Sec-Fetch-Site).
"""

from __future__ import annotations

import io
import os
import secrets
import zipfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, flash, g, redirect, render_template, request, send_file, session, url_for
from flask_wtf.csrf import CSRFProtect

from perfxl import __version__
from perfxl.forms import KIND_LABELS
from perfxl.review import DISPOSITIONS
from perfxl.serve import intake
from perfxl.serve.store import RETURN_REASONS, ROLES, Entity, Store, check_password, now

STATES = ("未提交", "有错误", "有警告", "已提交", "已退回", "已通过")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def secret_key(data: Path) -> bytes:
    path = data / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(data: Path, *, https: bool = False, testing: bool = False) -> Flask:
    """The web app over one data folder (made by `perfxl serve init`)."""
    data = Path(data).resolve()
    if not (data / "perfxl.sqlite").exists():
        raise FileNotFoundError(f"{data} 不是收集轮次的数据文件夹（先运行 perfxl serve init）")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key(data),
        MAX_CONTENT_LENGTH=intake.MAX_UPLOAD + 64 * 1024,  # refused from Content-Length, before the body
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_NAME="perfxl",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=False,  # the reverse proxy may strip Referer; Sec-Fetch-Site is checked instead
        TESTING=testing,
        DATA=data,
    )
    Store(data).close()  # schema and WAL mode, once; requests only connect
    CSRFProtect(app)
    app.jinja_env.globals.update(KIND_LABELS=KIND_LABELS, ROLES=ROLES, version=__version__)

    @app.before_request
    def _open() -> Response | None:
        g.store = Store(data, setup=False)
        if request.method == "POST" and request.headers.get("Sec-Fetch-Site", "same-origin") not in (
            "same-origin",
            "none",
        ):
            abort(403)
        return None

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers.setdefault("Cache-Control", "no-store")
        if https:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        return resp

    @app.errorhandler(500)
    def _broken(e: Any) -> tuple[str, int]:
        """Logged with its traceback for the operator (DATA/errors.log); the visitor gets Chinese."""
        import traceback

        original = getattr(e, "original_exception", None) or e
        with (data / "errors.log").open("a", encoding="utf-8") as log:
            log.write(f"{now()} {request.method} {request.path}\n")
            log.write("".join(traceback.format_exception(original)) + "\n")
        return render_template("message.html", title="服务器出错", text="请稍后重试；问题已记录。"), 500

    @app.errorhandler(413)
    def _too_large(_e: Any) -> tuple[str, int]:
        return render_template(
            "message.html", title="文件过大", text="上传的文件超过 20 MB，请确认是否选错了文件。"
        ), 413

    @app.errorhandler(403)
    def _forbidden(_e: Any) -> tuple[str, int]:
        return render_template("message.html", title="无权访问", text="此页面不属于您，或链接已失效。"), 403

    @app.errorhandler(404)
    def _missing(_e: Any) -> tuple[str, int]:
        return render_template("message.html", title="没有这个页面", text="请从首页重新进入。"), 404

    _department_routes(app)
    _staff_routes(app)
    return app


def server(app: Flask, host: str, port: int, threads: int = 8) -> Any:
    """The waitress server for `app` (not started): bodies over the cap are refused by waitress
    itself from Content-Length, before they are read."""
    import waitress.server

    return waitress.server.create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        trusted_proxy_headers=set(),
        ident="perfxl",
    )


def _store() -> Store:
    store: Store = g.store
    return store


def _ip() -> str:
    return request.remote_addr or ""


def _attachment(data: bytes | Path, name: str, mimetype: str) -> Response:
    body = io.BytesIO(data if isinstance(data, bytes) else data.read_bytes())
    return send_file(body, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ----- the department's pages -----------------------------------------------------------


def _entity() -> Entity:
    """The entity of this session's link, if the link still holds (re-issuing ends sessions)."""
    entity_id, gen = session.get("entity"), session.get("gen")
    entity = _store().entity(int(entity_id)) if entity_id is not None else None
    if entity is None or entity.token_gen != gen:
        abort(403)
    return entity


def _department_routes(app: Flask) -> None:
    @app.get("/d/<token>")
    def link(token: str) -> Response:
        entity = _store().entity_by_token(token)
        if entity is None:
            abort(403)
        session.clear()
        session.permanent = True
        session.update(entity=entity.id, gen=entity.token_gen)
        _store().log(entity.name, _ip(), "通过链接进入")
        return redirect(url_for("mine"), 303)  # type: ignore[return-value]

    @app.get("/my")
    def mine() -> str:
        entity = _entity()
        store = _store()
        uploads = store.uploads(entity.id)
        return render_template(
            "dept.html",
            e=entity,
            state=intake.state(store, entity),
            uploads=uploads,
            decisions=store.decisions(entity.id),
            deadline=store.meta("deadline"),
            year=store.year,
            notes=_notes_for(store, uploads),
        )

    @app.get("/my/template")
    def template() -> Response:
        from perfxl.forms import get_spec
        from perfxl.library import load_library
        from perfxl.package import CopyInfo
        from perfxl.template import render_template as render_form
        from perfxl.template import template_filename

        e = _entity()
        info = CopyInfo(entity=e.name, competent=e.competent, category=e.category, seq=e.seq)
        spec = get_spec(e.kind)
        year = _store().year
        library = load_library(intake.library_path(_store()))  # the round's own, else the packaged one
        data = render_form(spec, year, info=info, indicators=library)
        return _attachment(data, template_filename(spec, year, info), XLSX)

    @app.post("/my/upload")
    def upload() -> Response:
        e = _entity()
        f = request.files.get("file")
        if f is None or not f.filename:
            flash("请选择要上传的文件")
            return redirect(url_for("mine"), 303)  # type: ignore[return-value]
        raw = f.read(intake.MAX_UPLOAD + 1)
        if len(raw) > intake.MAX_UPLOAD:
            abort(413)
        purpose = "提交" if request.form.get("action") == "submit" else "自查"
        n = intake.take_in(_store(), e, raw, f.filename, source="网页", purpose=purpose, ip=_ip())
        if purpose == "提交":
            why = intake.submit(_store(), e, n, "", _ip())
            flash(why or "已提交审核")
        return redirect(url_for("version", n=n), 303)  # type: ignore[return-value]

    @app.get("/my/v/<int:n>")
    def version(n: int) -> str:
        e = _entity()
        row = _store().upload(e.id, n) or abort(404)
        return render_template(
            "result.html", e=e, u=row, findings=intake.report_rows(row), year=_store().year, printing=False
        )

    @app.get("/my/v/<int:n>/receipt")
    def receipt(n: int) -> str:
        e = _entity()
        row = _store().upload(e.id, n) or abort(404)
        return render_template("receipt.html", e=e, u=row, printed=now())

    @app.post("/my/v/<int:n>/submit")
    def submit(n: int) -> Response:
        e = _entity()
        why = intake.submit(_store(), e, n, request.form.get("explanation", ""), _ip())
        flash(why or "已提交审核")
        return redirect(url_for("version", n=n), 303)  # type: ignore[return-value]

    @app.get("/my/v/<int:n>/annotated")
    def annotated(n: int) -> Response:
        e = _entity()
        row = _store().upload(e.id, n) or abort(404)
        path = _annotated(_store(), row)
        if path is None:
            abort(404)
        return _attachment(path, f"{Path(row['filename']).stem}_校验结果.xlsx", XLSX)


def _annotated(store: Store, row: Any) -> Path | None:
    """The marked-up copy of a stored version (made once, in a worker like every check)."""
    from perfxl.annotate import annotate

    folder = store.data / "annotated" / str(row["sha256"])
    done = next(folder.glob("*.xlsx"), None) if folder.exists() else None
    if done is not None:
        return done
    report = intake.check(store, intake.stored(store.data, row["sha256"], row["ext"]))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return annotate(report, folder)
    except Exception:  # openpyxl cannot write it back: the findings page still lists everything
        return None


def _notes_for(store: Store, uploads: list[Any]) -> list[dict[str, Any]]:
    """Auditors' notes on this entity's problems (by the keys of its versions' findings)."""
    notes = store.notes()
    out, seen = [], set()
    for u in uploads:
        for f in intake.report_rows(u):
            key = f.get("key") or ""
            if key in notes and key not in seen:
                seen.add(key)
                out.append({"finding": f, "note": notes[key]})
    return out


# ----- the bureau's pages -----------------------------------------------------------------


def staff(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged-in staff with one of `roles` (any role when none given)."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            user = session.get("user")
            if not user:
                return redirect(url_for("login"), 303)
            row = _store().user(str(user))
            if row is None or (roles and row["role"] not in roles):
                abort(403)
            g.user = row
            return view(*args, **kwargs)

        return inner

    return wrap


def _staff_routes(app: Flask) -> None:
    @app.get("/")
    def home() -> Response:
        return redirect(url_for("roster" if session.get("user") else "login"), 303)  # type: ignore[return-value]

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            return render_template("login.html")
        store, ip = _store(), _ip()
        name = request.form.get("name", "").strip()[:64]
        if store.login_blocked(ip, name):
            store.log(name or "?", ip, "登录过于频繁")
            return render_template("login.html", error="尝试次数过多，请 15 分钟后再试"), 429
        row = store.user(name)
        if row is None or not check_password(request.form.get("password", ""), row["pw_hash"]):
            store.login_failed(ip, name)
            store.log(name or "?", ip, "登录失败")
            return render_template("login.html", error="用户名或密码不正确"), 401
        session.clear()
        session.permanent = True
        session["user"] = row["name"]
        store.log(row["name"], ip, "登录")
        return redirect(url_for("roster"), 303)

    @app.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect(url_for("login"), 303)  # type: ignore[return-value]

    @app.get("/roster")
    @staff()
    def roster() -> str:
        store = _store()
        want, q, sort = request.args.get("status", ""), request.args.get("q", "").strip(), request.args.get("sort", "")
        rows: list[dict[str, Any]] = []
        known = intake.states(store)
        for e in store.entities():
            st, last, count = known[e.id]
            rows.append({"e": e, "state": st, "last": last, "count": count})
        if want in STATES:
            rows = [r for r in rows if r["state"] == want]
        if q:
            rows = [r for r in rows if q in r["e"].name or q in r["e"].competent]
        if sort == "state":
            rows.sort(key=lambda r: STATES.index(r["state"]))
        elif sort == "last":
            rows.sort(key=lambda r: r["last"]["at"] if r["last"] else "", reverse=True)
        counts = {s: 0 for s in STATES}
        for st, _last, _n in known.values():
            counts[st] += 1
        chase = [r["e"] for r in rows if r["state"] in ("未提交", "有错误", "已退回")]
        inbox = sorted(p.name for p in (store.data / "inbox").glob("*") if p.is_file())
        return render_template(
            "roster.html", rows=rows, counts=counts, states=STATES, want=want, q=q, sort=sort, chase=chase, inbox=inbox
        )

    @app.get("/e/<int:entity_id>")
    @staff()
    def entity(entity_id: int) -> str:
        store = _store()
        e = store.entity(entity_id) or abort(404)
        uploads = store.uploads(e.id)
        shown = next((u for u in uploads if u["submitted_at"]), uploads[0] if uploads else None)
        return render_template(
            "entity.html",
            e=e,
            state=intake.state(store, e),
            uploads=uploads,
            shown=shown,
            findings=intake.report_rows(shown) if shown else [],
            changes=_changes(store, uploads, shown),
            decisions=store.decisions(e.id),
            notes=store.notes(),
            reasons=RETURN_REASONS,
            dispositions=DISPOSITIONS,
        )

    @app.post("/e/<int:entity_id>/decide")
    @staff("admin", "auditor")
    def decide(entity_id: int) -> Response:
        e = _store().entity(entity_id) or abort(404)
        why = intake.decide(
            _store(),
            e,
            request.form.get("action", ""),
            request.form.getlist("reason"),
            request.form.get("note", ""),
            g.user["name"],
            _ip(),
        )
        flash(why or f"已{request.form.get('action')}")
        return redirect(url_for("entity", entity_id=entity_id), 303)  # type: ignore[return-value]

    @app.post("/e/<int:entity_id>/note")
    @staff("admin", "auditor")
    def note(entity_id: int) -> Response:
        store = _store()
        store.entity(entity_id) or abort(404)
        key = request.form.get("key", "")[:40]
        disposition = request.form.get("disposition", "")
        if disposition not in ("", *DISPOSITIONS):
            abort(400)
        with store.tx():
            store.set_note(
                key,
                request.form.get("checked", "")[:2000],
                request.form.get("advice", "")[:2000],
                disposition,
                g.user["name"],
            )
            store.log(g.user["name"], _ip(), "审核意见", key)
        flash("审核意见已保存")
        return redirect(url_for("entity", entity_id=entity_id) + f"#k{key}", 303)  # type: ignore[return-value]

    @app.post("/e/<int:entity_id>/link")
    @staff("admin")
    def relink(entity_id: int) -> str:
        store = _store()
        e = store.entity(entity_id) or abort(404)
        with store.tx():
            token = store.issue_link(e.id)
            store.log(g.user["name"], _ip(), "重新生成链接", e.name)
        return render_template("link.html", e=e, link=url_for("link", token=token, _external=True))

    @app.get("/e/<int:entity_id>/v/<int:n>/file")
    @staff()
    def original(entity_id: int, n: int) -> Response:
        store = _store()
        row = store.upload(entity_id, n) or abort(404)
        return _attachment(store.data / "files" / row["sha256"], row["filename"], "application/octet-stream")

    @app.route("/export", methods=["GET", "POST"])
    @staff()
    def export() -> Any:
        store = _store()
        if request.method == "POST":
            if g.user["role"] == "viewer":
                abort(403)
            intake.export(store)
            store.log(g.user["name"], _ip(), "生成汇总")
            flash("汇总工作簿已生成")
            return redirect(url_for("export"), 303)
        out = store.data / "export" / "汇总.xlsx"
        return render_template("export.html", ready=out.exists(), submitted=len(store.latest_submitted()))

    @app.get("/export/<any('汇总.xlsx', '汇总.json'):name>")
    @staff()
    def export_file(name: str) -> Response:
        path = _store().data / "export" / name
        if not path.exists():
            abort(404)
        return _attachment(path, name, XLSX if name.endswith(".xlsx") else "application/json")

    @app.get("/export/annotated.zip")
    @staff()
    def annotated_zip() -> Response:
        store = _store()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for entity_id, row in sorted(store.latest_submitted().items()):
                e = store.entity(entity_id)
                path = _annotated(store, row)
                if e is not None and path is not None:
                    info = zipfile.ZipInfo(
                        f"{KIND_LABELS[e.kind]}_{e.seq}_{e.name}_校验结果.xlsx", (2024, 1, 1, 0, 0, 0)
                    )
                    z.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
        return _attachment(buf.getvalue(), "标注副本.zip", "application/zip")

    @app.post("/export/notes")
    @staff("admin", "auditor")
    def import_notes() -> Response:
        f = request.files.get("file")
        if f is None or not f.filename:
            flash("请选择汇总工作簿")
            return redirect(url_for("export"), 303)  # type: ignore[return-value]
        tmp = _store().data / "export" / f".import_{secrets.token_hex(8)}.xlsx"
        tmp.write_bytes(f.read(intake.MAX_UPLOAD + 1)[: intake.MAX_UPLOAD])
        try:
            n = intake.import_notes(_store(), tmp, g.user["name"], _ip())
        finally:
            tmp.unlink(missing_ok=True)
        flash(f"已导入 {n} 条审核意见")
        return redirect(url_for("export"), 303)  # type: ignore[return-value]

    @app.post("/inbox")
    @staff("admin", "auditor")
    def inbox() -> Response:
        taken, left = intake.take_inbox(_store())
        flash(f"收件箱：接收 {taken} 个文件" + (f"；{len(left)} 个无法对应：" + "；".join(left) if left else ""))
        return redirect(url_for("roster"), 303)  # type: ignore[return-value]

    @app.get("/audit")
    @staff("admin")
    def audit() -> str:
        return render_template("audit.html", rows=_store().audit())


def _changes(store: Store, uploads: list[Any], shown: Any) -> list[Any]:
    """What changed in the shown version against the version before it (checked in workers)."""
    if shown is None:
        return []
    older = next((u for u in uploads if u["n"] < shown["n"] and u["sha256"] != shown["sha256"]), None)
    if older is None:
        return []
    from perfxl.review import changes, snapshot

    new = intake.check(store, intake.stored(store.data, shown["sha256"], shown["ext"]))
    old = intake.check(store, intake.stored(store.data, older["sha256"], older["ext"]))
    if not (new.submission and new.submission.data and old.submission and old.submission.data):
        return []
    before = {k: v for k, (v, _loc) in snapshot(old.submission).items()}
    return changes(before, snapshot(new.submission), new.kind or "", new.entity, f"第 {older['n']} 版", None)
