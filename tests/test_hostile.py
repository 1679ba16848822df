"""Hostile and broken inputs: a finding for each, a traceback for none, nothing lost."""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import lo
import pytest
from click.testing import CliRunner
from hostile.corpus import SECRET, Expect, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfxl.check import check_paths
from perfxl.cli import main
from perfxl.consolidated import write_consolidated
from perfxl.isolate import check_files
from perfxl.merging import merge
from perfxl.read import read_submission

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "samples" / "项目支出_08_两馆免费开放.xlsx"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expect]]:
    out = tmp_path_factory.mktemp("hostile")
    return out, build(out)


def test_check_gives_one_clear_answer_per_file(corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, expected = corpus
    report = check_paths(sorted(folder.iterdir()), year=2024)
    assert len(report.files) == len(expected)
    for r in report.files:
        e = expected[r.path.name]
        assert (r.status, {f.rule for f in r.findings}) == (e.status, set(e.rules)), r.path.name
        if e.message:
            assert any(e.message in f.message for f in r.findings), (r.path.name, [f.message for f in r.findings])
        for f in r.findings:
            assert f.file == str(r.path)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in f.message)


def test_cli_check_never_shows_a_traceback(corpus: tuple[Path, dict[str, Expect]], tmp_path: Path) -> None:
    folder, expected = corpus
    files = [str(p) for p in sorted(folder.iterdir())]
    r = CliRunner().invoke(
        main,
        ["check", *files, "--year", "2024", "--json", str(tmp_path / "r.json"), "--annotate", str(tmp_path / "ann")],
    )
    assert r.exit_code == 1, r.output
    assert ("Traceback" not in r.output and r.exception is None) or isinstance(r.exception, SystemExit)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["summary"]["files"] == len(expected)
    assert SECRET not in r.output and SECRET not in json.dumps(doc, ensure_ascii=False)
    rejected = sum(e.status == "rejected" for e in expected.values())
    assert len(list((tmp_path / "ann").iterdir())) == len(expected) - rejected


def test_merge_accounts_for_every_file(corpus: tuple[Path, dict[str, Expect]], tmp_path: Path) -> None:
    folder, expected = corpus
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    for p in folder.iterdir():
        (inbox / p.name).write_bytes(p.read_bytes())
    (inbox / "~$项目支出.xlsx").write_bytes(b"\x00lock")
    (inbox / ".DS_Store").write_bytes(b"x")
    (inbox / "说明.txt").write_text("请查收", encoding="utf-8")
    result = merge([inbox], year=2024)
    counted = {s: result.count(s) for s in ("accepted", "superseded", "duplicate", "rejected", "skipped")}
    assert sum(counted.values()) == len(list(inbox.iterdir()))
    assert counted["skipped"] == 4  # lock file, hidden file, text file, the .xlsb (an .xls is read, like .ods)
    assert counted["rejected"] == sum(e.status == "rejected" for e in expected.values()) - 1  # .xlsb skipped
    out = write_consolidated(result, tmp_path / "汇总.xlsx")
    with zipfile.ZipFile(out) as z:
        everything = b"".join(z.read(n) for n in z.namelist())
    assert SECRET.encode() not in everything
    assert "公式和DDE文字.xlsx" in {r.path.name for r in result.roster if r.path}


@pytest.mark.libreoffice
def test_merge_of_everything_opens_everywhere(corpus: tuple[Path, dict[str, Expect]], tmp_path: Path) -> None:
    """The whole corpus in one folder: every input in 提交情况, a workbook Excel-compatible
    readers open (no NaN/INF, no formulas), and LibreOffice reads its roster."""
    import openpyxl

    folder, expected = corpus
    result = merge([folder], year=2024)
    assert len(result.roster) == len(expected)
    out = write_consolidated(result, tmp_path / "汇总.xlsx")
    wb = openpyxl.load_workbook(out, read_only=True)
    roster = [row for row in wb["提交情况"].iter_rows(min_row=2, values_only=True) if any(row)]
    assert len(roster) == len(expected)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (isinstance(v, float) and not math.isfinite(v)), ws.title
                assert not (isinstance(v, str) and v.startswith("=") and ws.title != "说明"), (ws.title, v)
    wb.close()
    r = lo.probe(out, [{"op": "sheets"}])
    assert "提交情况" in [s["name"] for s in r["steps"][0]["sheets"]]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_every_path_walked_appears_once(tmp_path: Path) -> None:
    """Links: aliases, loops, dangling ones and links back into the folder — each listed once,
    in Chinese, and the walk never ends in a traceback."""
    inbox = tmp_path / "收件箱"
    (inbox / "子文件夹").mkdir(parents=True)
    (inbox / "a.xlsx").write_bytes(CLEAN_BYTES)
    os.symlink(inbox / "a.xlsx", inbox / "a的链接.xlsx")
    os.link(inbox / "a.xlsx", inbox / "a的硬链接.xlsx")
    os.symlink(inbox / "不存在.xlsx", inbox / "断开的链接.xlsx")
    os.symlink(inbox / "环2.xlsx", inbox / "环1.xlsx")
    os.symlink(inbox / "环1.xlsx", inbox / "环2.xlsx")
    os.symlink(inbox, inbox / "子文件夹" / "回到上层")
    result = merge([inbox, inbox / "a.xlsx"], year=2024)
    assert len(result.roster) == 8 == result.inputs  # six entries, the link back, a.xlsx given again
    assert [r.path.name for r in result.roster if r.status == "accepted" and r.path] == ["a.xlsx"]
    reasons = {r.path.name: r.reason for r in result.roster if r.status == "skipped" and r.path}
    assert len(reasons) == 7 and "同一个文件" in reasons["a.xlsx"]
    assert "同一个文件" in reasons["a的链接.xlsx"] and "同一个文件" in reasons["a的硬链接.xlsx"]
    assert "不存在" in reasons["断开的链接.xlsx"]
    assert "循环" in reasons["环1.xlsx"] and "循环" in reasons["环2.xlsx"]
    assert "已读取文件夹" in reasons["回到上层"]
    assert not any(re.search("[A-Za-z]+ [A-Za-z]+", why) for why in reasons.values())  # no English OS text


def test_a_crash_in_native_code_costs_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that kills the process reading it (abort, segfault) is rejected on its own; the
    others in its chunk and batch get their normal results."""
    import perfxl.check

    real = perfxl.check.read_submission

    def fragile(path: Path, *a: object, **k: object) -> object:
        if "abort" in path.name or "segfault" in path.name:
            import faulthandler

            faulthandler.disable()  # pytest's crash dump would only add noise
        if "abort" in path.name:
            os.abort()
        if "segfault" in path.name:
            import ctypes

            ctypes.string_at(0)
        return real(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(perfxl.check, "read_submission", fragile)  # forked workers inherit it
    names = ["01.xlsx", "02_abort.xlsx", "03.xlsx", "04_segfault.xlsx", "05.xlsx"]
    for n in names:
        (tmp_path / n).write_bytes(CLEAN_BYTES)
    normal = check_paths([tmp_path / "01.xlsx"], year=2024).files[0]
    assert normal.status != "rejected"
    for jobs in (1, 2):
        report = check_files(sorted(tmp_path.iterdir()), 2024, jobs=jobs)
        got = {r.path.name: (r.status, [f.rule for f in r.findings]) for r in report.files}
        assert [r.path.name for r in report.files] == names
        assert got["02_abort.xlsx"] == got["04_segfault.xlsx"] == ("rejected", ["file.crashed"])
        for n in ("01.xlsx", "03.xlsx", "05.xlsx"):
            assert got[n] == (normal.status, [f.rule for f in normal.findings])


def test_text_output_is_terminal_safe_and_never_fails_to_encode(tmp_path: Path) -> None:
    """Cell text with terminal escapes, NUL, a rare CJK character and an emoji, shown by
    `check` with its output redirected on a GBK system."""
    from hostile.corpus import base_data

    from perfxl.exchange import fill_file

    data = base_data()
    row = data.tables["indicators"][0]
    row["level3"], row["op"] = "指标\x1b]0;被改的标题\x07\x1b[31m红字\x00𠀀😀", None  # no operator: a finding quotes it
    path = fill_file(data, tmp_path / "控制字符.xlsx")
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}
    r = subprocess.run([sys.executable, "-m", "perfxl.cli", "check", str(path)], capture_output=True, env=env)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode("gbk", "replace")
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", r.stdout)
    text = r.stdout.decode("gbk")
    assert "指标\\x1b]0;被改的标题\\x07\\x1b[31m红字\\x00\\U00020000\\U0001f600" in text


def test_xml_layout_does_not_change_findings(tmp_path: Path) -> None:
    """Every sample re-serialised pretty-printed and with namespace prefixes: same findings."""
    from hostile.corpus import prefixed, pretty_printed, rezip

    samples = sorted((ROOT / "samples").glob("*.xlsx"))
    for edit in (pretty_printed, prefixed):
        folder = tmp_path / edit.__name__
        folder.mkdir()
        for p in samples:
            (folder / p.name).write_bytes(rezip(p.read_bytes(), edit))
        base = check_paths(samples, year=2024).files
        other = check_paths(sorted(folder.iterdir()), year=2024).files
        for a, b in zip(base, other, strict=True):
            assert [(f.rule, f.sheet, f.cell, f.message) for f in a.findings] == [
                (f.rule, f.sheet, f.cell, f.message) for f in b.findings
            ], (edit.__name__, a.path.name)


def test_external_entities_are_never_resolved(corpus: tuple[Path, dict[str, Expect]]) -> None:
    import openpyxl.xml

    from perfxl.read import HostileXml, _xml

    folder, _ = corpus
    sub = read_submission(folder / "外部实体.xlsx")
    assert sub.problem and "DOCTYPE" in sub.problem
    with zipfile.ZipFile(folder / "外部实体.xlsx") as z:
        xml = z.read("xl/sharedStrings.xml")
    # our parser refuses it even when called directly: UTF-8 parts are searched for DTDs before
    # the stdlib parser sees them, other encodings go through defusedxml
    with pytest.raises(HostileXml):
        _xml("xl/sharedStrings.xml", xml)
    with pytest.raises(HostileXml):
        _xml("xl/sharedStrings.xml", xml.decode("utf-8").encode("utf-16"))
    declared = xml.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-8"?>', 1)
    with pytest.raises(HostileXml):
        _xml("xl/sharedStrings.xml", declared)  # the stdlib path searches the part itself too
    assert openpyxl.xml.DEFUSEDXML  # openpyxl (annotated copies) parses through defusedxml too


def test_cells_beyond_the_length_limit_are_cut_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFXL_MAX_CELL_CHARS", "100")  # the sample's 总体目标 has 383 characters
    r = check_paths([CLEAN]).files[0]
    cut = [f for f in r.findings if f.rule == "file.limit"]
    assert cut and all("超过 100，已截断" in f.message for f in cut)
    assert r.submission is not None and r.submission.data is not None
    assert len(r.submission.data.fields["goal"]) == 100  # type: ignore[arg-type]


def test_limits_are_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFXL_MAX_FILE_MB", "0.01")
    r = check_paths([CLEAN]).files[0]
    assert r.status == "rejected" and "超过" in r.findings[0].message
    monkeypatch.setenv("PERFXL_MAX_FILE_MB", "20")
    monkeypatch.setenv("PERFXL_MAX_ROWS", "10")
    r = check_paths([CLEAN]).files[0]
    assert "file.limit" in {f.rule for f in r.findings}


def test_output_into_missing_folder_and_read_only_inputs(tmp_path: Path) -> None:
    src = tmp_path / "只读"
    src.mkdir()
    (src / CLEAN.name).write_bytes(CLEAN.read_bytes())
    os.chmod(src / CLEAN.name, 0o444)
    os.chmod(src, 0o555)
    try:
        out = tmp_path / "新建" / "多层" / "汇总.xlsx"
        r = CliRunner().invoke(main, ["merge", str(src), "-o", str(out), "-q"])
        assert r.exit_code == 0 and out.exists()
        blocker = tmp_path / "文件"
        blocker.write_text("x", encoding="utf-8")
        r = CliRunner().invoke(main, ["merge", str(src), "-o", str(blocker / "汇总.xlsx")])
        assert r.exit_code == 2 and "无法写入" in r.stderr
    finally:
        os.chmod(src, 0o755)


# ----- fuzzing -------------------------------------------------------------------------

CLEAN_BYTES = CLEAN.read_bytes()
MEMBERS = zipfile.ZipFile(io.BytesIO(CLEAN_BYTES)).namelist()


def _mutate(member: str, body: bytes, flips: list[tuple[int, int]], shuffle: bool) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(CLEAN_BYTES)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == member:
                buf = bytearray(data)
                for pos, val in flips:
                    if buf:
                        buf[pos % len(buf)] = val
                data = bytes(buf)
                if shuffle:
                    parts = data.split(b"><")
                    data = b"><".join(parts[::-1]) if len(parts) > 2 else data
            dst.writestr(name, data)
    return out.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    member=st.sampled_from(MEMBERS),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    shuffle=st.booleans(),
    raw_flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
)
def test_fuzzed_workbooks_never_crash(
    member: str, flips: list[tuple[int, int]], shuffle: bool, raw_flips: list[tuple[int, int]], tmp_path: Path
) -> None:
    data = bytearray(_mutate(member, CLEAN_BYTES, flips, shuffle))
    for pos, val in raw_flips:  # and damage the zip container itself
        data[pos % len(data)] = val
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(bytes(data))
    report = check_paths([path], year=2024)
    (r,) = report.files
    assert r.status in ("ok", "findings", "rejected")
    assert all(f.rule != "file.internal_error" for f in r.findings), [f.message for f in r.findings]


# ----- killed midway -----------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.3, 0.9, 1.6])
def test_merge_killed_midway_leaves_previous_output(delay: float, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for i in range(40):
        (inbox / f"{i:03d}.xlsx").write_bytes(CLEAN_BYTES)
    out = tmp_path / "汇总.xlsx"
    out.write_bytes(b"previous output")
    code = (
        "import sys; from perfxl.cli import main; sys.argv=['perfxl','merge',sys.argv[1],'-o',sys.argv[2],'-q'];main()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(inbox), str(out)])
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # its worker processes go with it (none left waiting forever on a dead parent)
    deadline = time.monotonic() + 5
    while (left := _processes_mentioning(str(inbox))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left
    body = out.read_bytes()
    if body != b"previous output":  # it finished before the kill: then it is whole
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            assert z.testzip() is None and "xl/workbook.xml" in z.namelist()


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


@given(
    members=st.lists(
        st.tuples(
            st.binary(max_size=3000) | st.text(max_size=800).map(str.encode),
            st.sampled_from([(zipfile.ZIP_STORED, None), (zipfile.ZIP_DEFLATED, 1), (zipfile.ZIP_DEFLATED, 9)]),
        ),
        min_size=1,
        max_size=6,
    ),
    flip=st.integers(min_value=0),
)
def test_member_reader_agrees_with_zipfile(members: list[tuple[bytes, tuple[int, int | None]]], flip: int) -> None:
    """The in-memory member reader returns what zipfile returns, and fails where zipfile fails."""
    from perfxl.read import read_member

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (data, (method, level)) in enumerate(members):
            z.writestr(zipfile.ZipInfo(f"xl/part{i}.xml"), data, compress_type=method, compresslevel=level)
    raw = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        for info in z.infolist():
            assert read_member(raw, info, z) == z.read(info)
    # one flipped byte inside the members: both readers refuse, or both return the same bytes
    pos = flip % max(1, raw.find(b"PK\x01\x02"))
    bad = raw[:pos] + bytes([raw[pos] ^ 0xFF]) + raw[pos + 1 :]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:  # the directory is intact: same infos
        for info in z.infolist():
            try:
                expected: bytes | None = z.__class__(io.BytesIO(bad)).read(info.filename)
            except Exception:
                expected = None
            try:
                got: bytes | None = read_member(bad, info, z)
            except Exception:
                got = None
            assert got == expected


def test_missing_workbook_parts_are_named(tmp_path: Path) -> None:
    for part in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        buf = io.BytesIO()
        with zipfile.ZipFile(CLEAN) as src, zipfile.ZipFile(buf, "w") as dst:
            for info in src.infolist():
                if info.filename != part:
                    dst.writestr(info, src.read(info))
        sub = read_submission(tmp_path / "x.xlsx", buf.getvalue())
        assert sub.problem == f"不是 Excel 工作簿（缺少 {part}）"
