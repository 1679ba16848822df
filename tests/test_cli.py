"""The CLI: thin, Chinese, exit codes 0 / 2, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from click.testing import CliRunner

from perfxl.cli import main
from perfxl.package import META_SHEET

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "catalog.csv"


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_blank_templates(tmp_path: Path) -> None:
    code, out, err = run("template", "--kind", "project", "--year", "2025", "-o", str(tmp_path))
    assert code == 0
    (p,) = [Path(x) for x in out.split()]
    assert p.name == "项目支出绩效目标表_2025.xlsx" and p.exists()
    assert "已生成 1 个模板" in err


def test_catalog_templates_prefilled(tmp_path: Path) -> None:
    code, out, _ = run("template", "--catalog", str(SAMPLE), "-o", str(tmp_path / "新 文件夹"))
    assert code == 0
    paths = [Path(x) for x in out.splitlines()]
    assert len(paths) == 13
    names = sorted(p.name for p in paths)
    assert "项目支出绩效目标表_2024_03_省部级劳模春节慰问金、荣誉津贴.xlsx" in names
    assert "部门（单位）整体支出绩效目标申报表_2024_02_济南市历下区民政局.xlsx" in names
    wb = openpyxl.load_workbook(next(p for p in paths if "两馆" in p.name))
    meta = {r[0]: r[1] for r in wb[META_SHEET].iter_rows(values_only=True)}
    assert meta["issued_for"] == "两馆免费开放"
    assert meta["competent_dept"] == "济南市历下区文化和旅游局"


def test_usage_errors_exit_2_in_chinese(tmp_path: Path) -> None:
    code, _, err = run("template", "--kind", "dept", "--catalog", str(SAMPLE), "-o", str(tmp_path))
    assert code == 2 and "不能同时使用" in err
    code, _, err = run("template", "--kind", "budget", "-o", str(tmp_path))
    assert code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("名称\n甲\n", encoding="utf-8")
    code, _, err = run("template", "--catalog", str(bad), "-o", str(tmp_path))
    assert code == 2 and err.startswith("错误：目录文件") and "Traceback" not in err


def test_output_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, _, err = run("template", "--kind", "dept", "-o", str(blocker / "sub"))
    assert code == 2 and "无法写入" in err and "Traceback" not in err


def test_every_command_has_chinese_help() -> None:
    for cmd in main.commands.values():
        assert cmd.help and any("\u4e00" <= ch <= "\u9fff" for ch in cmd.help)
        for p in cmd.params:
            if getattr(p, "help", None):
                assert any("\u4e00" <= ch <= "\u9fff" for ch in p.help)  # type: ignore[union-attr]


def test_check_accepts_a_folder(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "收件"
    folder.mkdir()
    src = Path(__file__).resolve().parents[1] / "samples" / "项目支出_08_两馆免费开放.xlsx"
    shutil.copy(src, folder / src.name)
    (folder / "~$锁.xlsx").write_bytes(b"x")
    code, out, err = run("check", str(folder))
    assert code == 0 and "两馆免费开放" in out and "已跳过" in err and "临时锁文件" in err


def test_importing_perfxl_pulls_in_no_heavy_modules() -> None:
    import subprocess
    import sys

    code = "import sys, perfxl; print(','.join(m for m in ('pandas', 'pandera', 'openpyxl') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""  # pandas/pandera load only when validating, openpyxl only when annotating


def test_the_console_script_exits_with_the_commands_code_and_all_its_output(tmp_path: Path) -> None:
    """`perfxl` (perfxl.entry.run, then perfxl.cli.run) ends the process without tearing its heap down: the exit code is
    still the command's (0 written, 1 findings, 2 usage), its output is all there, and the merge's
    workbook, JSON and kept previous round are complete."""
    import json
    import subprocess
    import sys

    samples = sorted((Path(__file__).resolve().parents[1] / "samples").glob("*.xlsx"))

    def perfxl(*args: str) -> subprocess.CompletedProcess[str]:
        code = "from perfxl.entry import run; run()"
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)

    out = tmp_path / "汇总.xlsx"
    for _ in range(2):
        done = perfxl("merge", *map(str, samples), "-o", str(out), "--json", str(tmp_path / "汇总.json"))
        assert done.returncode == 0 and done.stdout.startswith("已写出") and done.stdout.endswith("）。\n")
    assert openpyxl.load_workbook(out)["提交情况"].max_row == 14
    summary = json.loads((tmp_path / "汇总.json").read_text("utf-8"))["summary"]
    assert (summary["accepted"], summary["round"]) == (13, 2)
    assert list(tmp_path.glob("汇总_第1轮_*.xlsx"))
    checked = perfxl("check", str(samples[0]))
    assert checked.returncode == 1 and "错误" in checked.stdout
    assert perfxl("merge", "--no-such-option").returncode == 2


def test_a_merge_command_starts_its_checking_worker_before_loading_perfxl(tmp_path: Path) -> None:
    """`perfxl merge` (perfxl.entry) starts its checking worker before perfxl is loaded; the merge
    takes it, checks with it and ends it: the same workbook as a merge started without it, in the
    first round (many files: a pool of its own) and in a re-merge (one changed file: that worker).
    Other commands and help start nothing."""
    import shutil
    import subprocess
    import sys

    from perfxl.exchange import export_file, fill_file

    code = (
        "import sys\nfrom perfxl import workers\nfrom perfxl.entry import early\n"
        "if sys.argv[1] == 'early':\n early(sys.argv[2:])\n"
        "started, loaded = bool(workers._EARLY), 'perfxl.check' in sys.modules\n"
        "procs = [p for c in workers._EARLY for p in c.pool._processes.values()]\n"
        "sys.argv[1:2] = []\nfrom perfxl.cli import main\ncode = 0\n"
        "try:\n main(sys.argv[1:])\nexcept SystemExit as e:\n code = e.code\n"
        "for p in procs:\n p.join(10)\n"
        "print(started, loaded, bool(workers._EARLY), any(p.is_alive() for p in procs), code)"
    )

    def perfxl(how: str, *args: str) -> str:
        done = subprocess.run([sys.executable, "-c", code, how, *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\n")[-2]

    samples = Path(__file__).resolve().parents[1] / "samples"
    for how in ("early", "late"):
        inbox = tmp_path / how / "收件箱"
        inbox.mkdir(parents=True)
        for p in samples.glob("*.xlsx"):
            shutil.copy(p, inbox)
    started = "True False False False"  # started before perfxl.check loaded, taken, ended
    for day in ("2026-01-05", "2026-02-10"):
        for how in ("early", "late"):
            merge = ("merge", str(tmp_path / how / "收件箱"), "-o", str(tmp_path / how / "汇总.xlsx"), "-q")
            line = perfxl(how, *merge, "--round-date", day)
            assert line == (f"{started} 0" if how == "early" else "False False False False 0")
        early, late = (tmp_path / how / "汇总.xlsx" for how in ("early", "late"))
        assert early.read_bytes() == late.read_bytes()
        for how in ("early", "late"):  # one file resubmitted with new bytes: checked by that worker
            victim = next((tmp_path / how / "收件箱").glob("项目*.xlsx"))
            form = export_file(victim)
            victim.unlink()
            fill_file(form, victim, seq="resubmitted")
    sample = str(sorted(samples.glob("*.xlsx"))[0])  # one with errors
    assert perfxl("early", "check", sample) == "False False False False 1"
    assert perfxl("early", "merge", "--help") == "False False False False 0"
