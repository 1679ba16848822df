"""Command line: parse, call one library function, render, exit code.

Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or tool error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from perfxl import __version__
from perfxl.annotate import annotate
from perfxl.consolidated import write_consolidated
from perfxl.data import DataError, FormData, json_schema
from perfxl.errors import OutputError, PerfxlError
from perfxl.exchange import export_file, fill_file
from perfxl.findings import Severity
from perfxl.forms import KINDS, get_spec
from perfxl.inputs import collect
from perfxl.isolate import check_files
from perfxl.merging import Aside, auto_jobs, merge_collected, previous_round
from perfxl.output import atomic_write
from perfxl.package import DEFAULT_YEAR
from perfxl.report import json_report, printable, text_report
from perfxl.review import keep_copy, round_label
from perfxl.template import DEFAULT_PASSWORD, write_catalog_templates, write_template
from perfxl.workers import Checkers, take_early

CONTEXT = {"help_option_names": ["-h", "--help"]}


class _Group(click.Group):
    """Turn library errors into one Chinese line and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Output redirected on a Chinese Windows is GBK: a rare CJK character or an emoji
        # from a cell must come out escaped, not end the run in UnicodeEncodeError.
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                with contextlib.suppress(ValueError, OSError):  # a stream that cannot change
                    reconfigure(errors="backslashreplace")
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PerfxlError as exc:
            click.echo(f"错误：{exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", message="perfxl %(version)s")
def main() -> None:
    """perfxl：预算绩效目标表的模板生成、填报校验与汇总工具。"""


# What a command built, referenced until the process ends: see `run`.
_KEPT: list[object] = []


def run() -> None:
    """The `perfxl` console script: `main`, then the process ends without freeing what it built
    one object at a time (a merge of 2,000 submissions leaves millions: 0.1–0.2 s of teardown
    after its work is done and written). Output streams are flushed first; every file a command
    writes is complete and renamed into place before it returns."""
    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    hard_exit(code)


def hard_exit(code: Any) -> None:
    if code is not None and not isinstance(code, int):  # as the interpreter does with sys.exit("text")
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`perfxl check … | head`)
            stream.flush()
    os._exit(code or 0)


@main.command(context_settings=CONTEXT)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(KINDS),
    multiple=True,
    help="表单类型：dept（部门整体）或 project（项目支出），可重复；默认两种都生成。",
)
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="目录文件（.csv 或 .xlsx）：按目录逐个生成预填名称并锁定的模板。",
)
@click.option("--year", type=click.IntRange(2000, 2100), default=2024, show_default=True, help="预算年度。")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="输出文件夹（不存在时自动创建）。",
)
@click.option("--password", default=DEFAULT_PASSWORD, show_default=True, help="工作表与工作簿结构保护密码。")
@click.option(
    "--indicators",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="共性指标库（.csv）：预填在部门整体表的指标表开头；默认使用内置的 2024 年区级共性指标。",
)
def template(
    kinds: tuple[str, ...], catalog: Path | None, year: int, out_dir: Path, password: str, indicators: Path | None
) -> None:
    """生成锁定的填报模板（空白模板，或按目录预填的模板）。"""
    from perfxl.library import load_library

    if catalog is not None and kinds:
        raise click.UsageError("--kind 与 --catalog 不能同时使用。")
    library = load_library(indicators)
    if catalog is not None:
        paths = write_catalog_templates(catalog, year, out_dir, password=password, indicators=library)
    else:
        paths = [write_template(k, year, out_dir, password=password, indicators=library) for k in (kinds or KINDS)]
    for p in paths:
        click.echo(str(p))
    click.echo(f"已生成 {len(paths)} 个模板。", err=True)


@main.command(name="export", context_settings=CONTEXT)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="输出的 JSON 文件；用 - 表示输出到屏幕。",
)
def export_cmd(file: Path, output: Path) -> None:
    """把填好的工作簿导出为 JSON 数据。"""
    text = export_file(file).dumps()
    if str(output) == "-":
        click.echo(text, nl=False)
    else:
        atomic_write(output, text.encode("utf-8"))


@main.command(context_settings=CONTEXT)
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), help="表单类型；须与 JSON 中的 kind 一致。")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="输出的工作簿（.xlsx）。"
)
@click.option("--password", default=DEFAULT_PASSWORD, show_default=True, help="保护密码。")
def fill(data: Path, kind: str | None, output: Path, password: str) -> None:
    """用 JSON 数据填写模板，生成仍然锁定的工作簿。"""
    try:
        obj = json.loads(data.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{data} 不是有效的 JSON：{exc}") from exc
    form = FormData.from_json(obj)
    if kind is not None and kind != form.kind:
        raise DataError(f"--kind {kind} 与数据中的 kind {form.kind} 不一致")
    click.echo(str(fill_file(form, output, password=password)))


@main.command(name="finding-types", context_settings=CONTEXT)
@click.option("--json-schema", "as_schema", is_flag=True, help="输出 check --json 结果的 JSON Schema。")
def finding_types_cmd(as_schema: bool) -> None:
    """列出全部问题类型（编号、严重程度、说明、怎么办），即 docs/findings.md。"""
    from perfxl.codes import findings_markdown, report_json_schema

    if as_schema:
        click.echo(json.dumps(report_json_schema(), ensure_ascii=False, indent=1))
    else:
        click.echo(findings_markdown(), nl=False)


@main.command(name="json-schema", context_settings=CONTEXT)
@click.option("--kind", type=click.Choice(KINDS), required=True, help="表单类型。")
def json_schema_cmd(kind: str) -> None:
    """输出某类表单 JSON 数据的 JSON Schema。"""
    click.echo(json.dumps(json_schema(get_spec(kind)), ensure_ascii=False, indent=1))


FAIL_ON = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO, "never": None}


@main.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="把结果另存为 JSON（格式见 docs/findings.schema.json，问题类型见 docs/findings.md）；用 - 表示输出到屏幕。",
)
@click.option(
    "--annotate",
    "annotate_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="为每个文件写一份标注副本到此文件夹：问题单元格标红并附批注，另加“校验结果”工作表。",
)
@click.option(
    "--fail-on",
    type=click.Choice(list(FAIL_ON)),
    default="error",
    show_default=True,
    help="存在该级别及以上的问题时，退出码为 1；never 表示只报告、不以退出码区分。",
)
@click.option("--year", type=click.IntRange(2000, 2100), help="要求模板为该预算年度。")
@click.option(
    "--indicators",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="共性指标库（.csv：级次,一级指标,二级指标,三级指标,符号,数值,单位,适用表类型,必填,可改）；"
    "默认使用内置的 2024 年区级共性指标。",
)
@click.option("-q", "--quiet", is_flag=True, help="不在屏幕上列出每个问题，只输出汇总。")
def check(
    files: tuple[Path, ...],
    json_path: Path | None,
    annotate_dir: Path | None,
    fail_on: str,
    year: int | None,
    indicators: Path | None,
    quiet: bool,
) -> None:
    """校验填报好的工作簿，列出每个问题的位置和说明。可以给文件，也可以给文件夹。"""
    report = check_files(files, year, indicators=indicators)
    for p, why in report.skipped:
        click.echo(f"已跳过：{printable(p)}（{printable(why)}）", err=True)
    text = text_report(report)
    click.echo(text.splitlines()[-1] if quiet else text.rstrip("\n"))
    if json_path is not None:
        payload = json_report(report)
        if str(json_path) == "-":
            click.echo(payload)
        else:
            atomic_write(json_path, payload.encode("utf-8"))
    if annotate_dir is not None:
        for r in report.files:
            try:
                out = annotate(r, annotate_dir)
            except OutputError:
                raise
            except Exception as exc:  # the report stands; only this copy is missing
                click.echo(f"未生成标注副本：{printable(r.path)}（{type(exc).__name__}）", err=True)
                continue
            if out is None:
                why = "文件无法读取" if r.status == "rejected" else "该格式不能生成标注副本，请另存为 .xlsx"
                click.echo(f"未生成标注副本：{printable(r.path)}（{why}）", err=True)
            else:
                click.echo(f"标注副本：{printable(out)}", err=True)
    threshold = FAIL_ON[fail_on]
    if threshold is not None and any(f.severity.rank >= threshold.rank for f in report.findings):
        sys.exit(1)


@main.command(name="merge", context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="目录文件：据此判断谁未提交、谁不在目录中。",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="汇总工作簿（.xlsx）。"
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="另存问题清单与提交情况为 JSON。"
)
@click.option("--year", type=click.IntRange(2000, 2100), help="要求模板为该预算年度。")
@click.option(
    "--jobs",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="并行进程数；0 为自动（200 个文件以上时按 CPU 核数，最多 4 个）。",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="上一轮的汇总工作簿；默认为 -o 指定的已有文件。其中的审核意见按问题编号带入本轮。",
)
@click.option("--fresh", is_flag=True, help="不读取上一轮，从第 1 轮开始。")
@click.option(
    "--round-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="本轮日期（YYYY-MM-DD），默认今天；同样的输入和日期得到逐字节相同的汇总。",
)
@click.option(
    "--cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="校验结果缓存文件（SQLite）；默认在输出文件旁（.<输出名>.cache.sqlite），未改动的文件不再重新校验。",
)
@click.option("--no-cache", is_flag=True, help="不使用缓存，全部重新校验。")
@click.option(
    "--indicators",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="共性指标库（.csv：级次,一级指标,二级指标,三级指标,符号,数值,单位,适用表类型,必填,可改）；"
    "默认使用内置的 2024 年区级共性指标。",
)
@click.option("-q", "--quiet", is_flag=True, help="不显示进度和汇总。")
def merge_cmd(
    inputs: tuple[Path, ...],
    catalog: Path | None,
    output: Path,
    json_path: Path | None,
    year: int | None,
    jobs: int,
    previous: Path | None,
    fresh: bool,
    round_date: datetime | None,
    cache: Path | None,
    no_cache: bool,
    indicators: Path | None,
    quiet: bool,
) -> None:
    """汇总全部提交：提交情况、数据表、交叉校验和问题清单。输入可以是文件或文件夹。

    重新汇总时读取上一轮的汇总工作簿（默认即输出文件），保留审核人员填写的核实情况、处理意见和处置，
    标出每个问题的状态；上一轮的文件另存一份带轮次和日期的副本。"""
    source = None if fresh else (previous or (output if output.exists() else None))
    files, skipped = collect(list(inputs))
    jobs = jobs or auto_jobs(len(files))
    show = not quiet and sys.stderr.isatty()
    day = round_date.date().isoformat() if round_date else ""
    store = None if no_cache else (cache or output.with_name(f".{output.stem}.cache.sqlite"))
    # before the merge does anything, in other processes: a checking worker loading pandera (the
    # `perfxl` command started it before loading perfxl: perfxl.entry), the previous round read
    # (unless kept when it was written)
    checkers = take_early() or Checkers()
    reading = previous_round(source, store) if source is not None else None
    try:
        with click.progressbar(length=len(files), label="校验中", file=sys.stderr, hidden=not show) as bar:
            result = merge_collected(
                files,
                skipped,
                catalog=catalog,
                year=year,
                jobs=jobs,
                progress=bar.update,
                previous=reading,
                round_date=day,
                cache=store,
                indicators=indicators,
                checkers=checkers,
            )
    finally:  # closed by the merge; here too, should it not have started
        checkers.close()
        if isinstance(reading, Aside):
            reading.close()
    last = result.previous
    if last is not None and last.problem and not quiet:
        click.echo(f"提示：{last.problem}", err=True)
    if last is not None and source is not None and source.resolve() == output.resolve():
        kept = keep_copy(output, last)
        if kept is not None and not quiet:
            click.echo(f"上一轮汇总另存为 {printable(kept)}", err=True)
    write_consolidated(result, output, jobs=jobs, cache=store, json_path=json_path)
    _KEPT[:] = [result]  # freed when the process ends (`run`), not here
    if not quiet:
        fails = sum(c.status == "fail" for c in result.checks)
        click.echo(
            f"已写出 {output}：输入 {result.inputs} 个文件，已接收 {result.count('accepted')}，"
            f"被替代 {result.count('superseded')}，重复 {result.count('duplicate')}，"
            f"无法读取 {result.count('rejected')}，跳过 {result.count('skipped')}，"
            f"未提交 {result.count('missing')}；交叉校验 {len(result.checks)} 项，不通过 {fails} 项；"
            f"问题 {len(result.findings)} 条；审核{round_label(result.round, result.round_date)}。"
        )


class _ServeGroup(click.Group):
    """`perfxl serve DATA` runs the server; `perfxl serve init|user|backup|restore …` manage it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _serve_modules() -> None:
    try:
        import flask  # noqa: F401
        import flask_wtf  # noqa: F401
        import waitress  # noqa: F401
    except ImportError as exc:
        raise click.UsageError("网页收集功能需要另外安装：pip install 'perfxl[serve]'") from exc


def _password(env: str, prompt: str) -> str:
    return os.environ.get(env) or click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@main.group(name="serve", cls=_ServeGroup, context_settings=CONTEXT, invoke_without_command=False)
def serve_group() -> None:
    """财政部门的网页收集：部门通过链接下载模板、上传并立即看到检查结果；财政部门跟踪提交情况、
    审核、下载汇总。`perfxl serve 数据文件夹` 启动服务。"""


@serve_group.command(name="init", context_settings=CONTEXT)
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="目录文件（.csv 或 .xlsx）。"
)
@click.option("--year", type=int, default=DEFAULT_YEAR, show_default=True, help="预算年度。")
@click.option(
    "--admin",
    default="admin",
    show_default=True,
    help="管理员用户名（密码取环境变量 PERFXL_ADMIN_PASSWORD，否则询问）。",
)
@click.option(
    "--base-url", default="http://127.0.0.1:8000", show_default=True, help="部门访问本服务的地址，用于生成链接。"
)
@click.option("--deadline", default="", help="截止时间（显示给各部门），如“2024-03-15 17:00”。")
@click.option(
    "--demo", is_flag=True, help="载入 samples/ 中的 13 张公开表作为演示数据（未给目录时使用 samples/catalog.csv）。"
)
@click.option(
    "--indicators",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="本轮使用的共性指标库（.csv）：下载的模板按它预填，上传和汇总按它校验；默认使用内置的 2024 年区级共性指标。",
)
def serve_init(
    data: Path,
    catalog: Path | None,
    year: int,
    admin: str,
    base_url: str,
    deadline: str,
    demo: bool,
    indicators: Path | None,
) -> None:
    """创建收集轮次：每个目录对象一个上传链接（写入“上传链接.xlsx”），以及管理员账号。"""
    _serve_modules()
    from perfxl.serve import intake, ops

    if catalog is None:
        if not demo:
            raise click.UsageError("请用 --catalog 指定目录文件")
        catalog = ops.SAMPLES / "catalog.csv"
    try:
        links = intake.init_round(
            data, catalog, year, admin=admin, password=_password("PERFXL_ADMIN_PASSWORD", "管理员密码"),
            base_url=base_url, deadline=deadline, indicators=indicators,
        )  # fmt: skip
    except FileExistsError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"已创建：{len(links.tokens)} 个上传链接写入 {links.workbook}（链接只在此文件中出现一次，请妥善保管）")
    if demo:
        click.echo(f"演示数据：已提交 {ops.load_demo(data)} 张表")
    click.echo(f"启动：perfxl serve {data}")


@serve_group.command(name="run", context_settings=CONTEXT)
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="监听地址（局域网访问用 0.0.0.0，建议置于反向代理之后）。"
)
@click.option("--port", default=8000, show_default=True, help="端口。")
@click.option("--https", "https", is_flag=True, help="经 HTTPS 反向代理访问时使用：Cookie 只经 HTTPS 发送。")
@click.option("--threads", default=8, show_default=True, help="处理请求的线程数。")
def serve_run(data: Path, host: str, port: int, https: bool, threads: int) -> None:
    """启动网页服务（waitress）。"""
    _serve_modules()
    from perfxl.serve.web import create_app, server
    from perfxl.serve.worker import preload

    try:
        app = create_app(data, https=https)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc
    preload()
    click.echo(f"perfxl 收集服务：http://{host}:{port}/  （Ctrl+C 停止）", err=True)
    srv = server(app, host, port, threads)
    try:
        srv.run()
    except KeyboardInterrupt:
        srv.close()


@serve_group.command(name="user", context_settings=CONTEXT)
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "auditor", "viewer"]), default="auditor", show_default=True,
              help="admin 管理员 / auditor 审核员 / viewer 只读。")  # fmt: skip
def serve_user(data: Path, name: str, role: str) -> None:
    """添加或修改财政部门的账号（密码取环境变量 PERFXL_PASSWORD，否则询问）。"""
    from perfxl.serve.store import ROLES, Store

    store = Store(data)
    try:
        store.add_user(name, role, _password("PERFXL_PASSWORD", f"{name} 的密码"))
        store.log("命令行", "", "设置账号", f"{name}（{ROLES[role]}）")
    finally:
        store.close()
    click.echo(f"已设置账号 {name}（{ROLES[role]}）")


@serve_group.command(name="backup", context_settings=CONTEXT)
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def serve_backup(data: Path, out: Path) -> None:
    """备份数据文件夹（数据库在线一致备份，加全部文件）为 zip；服务运行时也可以备份。"""
    from perfxl.serve.ops import backup

    click.echo(f"已备份到 {out}：数据库和 {backup(data, out)} 个文件")


@serve_group.command(name="restore", context_settings=CONTEXT)
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
def serve_restore(archive: Path, data: Path) -> None:
    """从备份恢复到一个空文件夹。"""
    from perfxl.serve.ops import restore

    try:
        restore(archive, data)
    except (FileExistsError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"已恢复到 {data}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
