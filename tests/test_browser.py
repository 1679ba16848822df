"""The intake in a real browser (Playwright driving Debian's chromium): one journey end to
end, keyboard-only upload, a label on every control. `PERFXL_SCREENSHOTS=docs` also saves
the README's pictures of the department's result page and the roster."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from regression import build, cases
from test_serve import MZ, PASSWORD, SAMPLES, live

from perfxl.exchange import fill_file
from perfxl.review import read_notes
from perfxl.serve import intake, ops
from perfxl.serve.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:  # CI installs it (.ci/run): there a missing browser is a failure, not a skip
        message = "needs Debian's chromium (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            yield b
        finally:
            b.close()


def _unlabelled(page: Any) -> list[str]:
    """Controls a screen reader could not name: no <label for>, no aria-label, not hidden."""
    result: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea'))
            .filter(el => el.type !== 'hidden' && !el.getAttribute('aria-label')
                    && !(el.id && document.querySelector(`label[for="${el.id}"]`))
                    && !el.closest('label'))
            .map(el => el.outerHTML)"""
    )
    return result


def test_the_intake_journey(browser: Any, tmp_path: Path) -> None:
    """Admin creates the round; a department downloads its template, uploads a form with an
    error, sees it, downloads the annotated copy, uploads a corrected form and submits it with
    a 说明; an auditor writes a note and returns another form; the admin downloads the
    consolidated workbook and finds the note in it."""
    folder = tmp_path / "data"
    links = intake.init_round(folder, SAMPLES / "catalog.csv", 2024, admin="admin", password=PASSWORD,
                              deadline="2024-03-15 17:00")  # fmt: skip
    ops.load_demo(folder)
    store = Store(folder)
    store.add_user("审核甲", "auditor", PASSWORD)
    ids = {e.name: e.id for e in store.entities()}
    store.close()
    token = links.tokens[ids[MZ]]
    shots = os.environ.get("PERFXL_SCREENSHOTS")
    bad_case = next(c for c in cases() if c.name == "value.malformed_number_D")
    bad = fill_file(build(bad_case.name, bad_case.base, bad_case.change), tmp_path / "民政局_初稿.xlsx")
    fixed = SAMPLES / f"部门整体_02_{MZ}.xlsx"

    with live(folder) as url:
        dept = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN")
        page = dept.new_page()
        page.goto(f"{url}/d/{token}")
        assert page.url == f"{url}/my"  # the link was exchanged for a session
        assert page.get_by_role("heading", name=MZ).is_visible()
        assert _unlabelled(page) == []
        with page.expect_download() as dl:
            page.get_by_role("link", name="下载模板（已预填名称）").click()
        assert dl.value.suggested_filename.endswith(".xlsx") and MZ in dl.value.suggested_filename

        # keyboard only: reach the file input and the check button by Tab, press Enter
        page.set_input_files("#file", str(bad))
        page.focus("#file")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent").strip() == "仅自查（不提交）"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/my/v/\d+$"))
        assert page.get_by_text("数值“1OO").first.is_visible()
        assert page.get_by_text("这一版有错误，不能提交").is_visible()
        with page.expect_download() as dl:
            page.get_by_role("link", name="下载标注副本（问题单元格已标出）").click()
        assert dl.value.suggested_filename == "民政局_初稿_校验结果.xlsx"

        page.get_by_role("link", name="← 返回本单位首页").click()
        page.set_input_files("#file", str(fixed))
        page.get_by_role("button", name="提交审核").click()
        page.wait_for_url(re.compile(r"/my/v/\d+$"))
        page.get_by_label("警告说明（必填，审核人员可见）").fill("任务表只列主要任务，差额为零星项目")
        if shots:
            page.screenshot(path=str(Path(shots) / "serve_部门检查结果.png"), full_page=False)
        page.get_by_role("button", name="提交这一版").click()
        assert page.get_by_text("已提交审核").first.is_visible()
        assert _unlabelled(page) == []

        staff = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN")
        page = staff.new_page()
        page.goto(f"{url}/login")
        page.get_by_label("用户名").fill("审核甲")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{url}/roster")
        assert _unlabelled(page) == []
        if shots:
            page.screenshot(path=str(Path(shots) / "serve_提交情况.png"), full_page=False)
        page.get_by_role("link", name="两馆免费开放").click()
        page.get_by_label("核实情况").first.fill("已电话核实，标准按 2023 年执行")
        page.get_by_label("处置").first.select_option("属实待整改")
        page.get_by_role("button", name="保存").first.click()
        assert page.get_by_text("审核意见已保存").is_visible()
        page.get_by_label("金额单位疑似填错").check()
        page.get_by_label("说明（发给该单位）").fill("请核对文化馆活动标准")
        page.get_by_role("button", name="退回").click()
        assert page.get_by_text("已退回").first.is_visible()
        page.get_by_role("link", name="← 提交情况").click()
        assert page.get_by_role("link", name="已退回 1").is_visible()  # 两馆免费开放
        assert page.get_by_role("link", name="已提交 9").is_visible()

        admin = browser.new_context(accept_downloads=True, locale="zh-CN")
        page = admin.new_page()
        page.goto(f"{url}/login")
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("link", name="汇总").click()
        page.get_by_role("button", name="生成汇总工作簿").click()
        with page.expect_download() as dl:
            page.get_by_role("link", name="下载 汇总.xlsx").click()
        saved = tmp_path / "汇总.xlsx"
        dl.value.save_as(saved)
        notes = read_notes(saved)
        assert any(
            n.checked == "已电话核实，标准按 2023 年执行" and n.disposition == "属实待整改" for n in notes.values()
        )
        page.get_by_role("link", name="操作记录").click()
        assert page.get_by_text("退回").first.is_visible() and page.get_by_text("生成汇总").first.is_visible()

        returned = browser.new_context(locale="zh-CN").new_page()  # 两馆's clerk sees why, and the note
        returned.goto(f"{url}/d/{links.tokens[ids['两馆免费开放']]}")
        assert returned.get_by_text("请核对文化馆活动标准").is_visible()
        assert returned.get_by_text("已电话核实，标准按 2023 年执行").is_visible()
