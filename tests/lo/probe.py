"""Drive LibreOffice Calc over UNO: open a workbook as a user would, act, report.

Runs under Debian's /usr/bin/python3 (which imports `uno`), never inside the
project venv. Usage: probe.py PLAN.json OUT.json. The plan holds the file and a
list of steps; the report holds one result per step. Kept generic so tests say
what they check, not how UNO works.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]


def _props(**kw: object) -> tuple:
    out = []
    for k, v in kw.items():
        p = PropertyValue()
        p.Name = k
        p.Value = v
        out.append(p)
    return tuple(out)


def _connect(pipe: str, proc: subprocess.Popen) -> object:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.time() + 60
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                raise
            time.sleep(0.25)


_CTX: object = None


def _cell(doc: object, sheet: str, ref: str) -> object:
    return doc.Sheets.getByName(sheet).getCellRangeByName(ref)


def _read(cell: object) -> dict:
    t = cell.getType().value  # EMPTY / VALUE / TEXT / FORMULA
    out = {"string": cell.getString(), "value": cell.getValue(), "error": cell.getError()}
    out["type"] = t.lower()
    if t == "FORMULA":
        out["formula"] = cell.getFormula()
    return out


def run(plan: dict) -> dict:
    report: dict = {"steps": []}
    profile = Path(tempfile.mkdtemp(prefix="perfxl-lo-"))
    pipe = f"perfxl{os.getpid()}_{os.urandom(4).hex()}"  # never an earlier soffice's, even if the pid is reused
    soffice = shutil.which("soffice") or "/usr/bin/soffice"
    proc = subprocess.Popen(
        [
            soffice,
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            f"-env:UserInstallation={profile.as_uri()}",
            f"--accept=pipe,name={pipe};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # soffice.bin runs under a launcher: the whole group is ended below
    )
    try:
        ctx = _connect(pipe, proc)
        global _CTX
        _CTX = ctx
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        # work on a copy: LibreOffice leaves lock files beside what it opens
        work = profile / ("input" + Path(plan["file"]).suffix)
        shutil.copyfile(plan["file"], work)
        doc = desktop.loadComponentFromURL(work.as_uri(), "_blank", 0, _props(Hidden=True))
        report["loaded"] = doc is not None
        if doc is None:
            return report
        try:
            for step in plan["steps"]:
                report["steps"].append(_step(doc, step))
            saves = plan.get("saves", [])
            if plan.get("save_as"):
                saves.append([plan["save_as"], "Calc MS Excel 2007 XML"])
            for target, filter_name in saves:  # what a user's 另存为 writes, in each format asked for
                doc.storeToURL(Path(target).resolve().as_uri(), _props(FilterName=filter_name))
            if plan.get("save_pdf"):
                doc.storeToURL(Path(plan["save_pdf"]).resolve().as_uri(), _props(FilterName="calc_pdf_Export"))
        finally:
            # headless soffice sometimes goes away while closing; by then every step and save
            # above has completed (a failure there raises from the step itself)
            with contextlib.suppress(Exception):
                doc.close(True)
    finally:
        with contextlib.suppress(Exception):
            desktop.terminate()  # type: ignore[possibly-undefined]
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        with contextlib.suppress(OSError):  # nothing of this LibreOffice left to slow the next tests
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)
    return report


def _step(doc: object, step: dict) -> object:
    op = step["op"]
    if op == "sheets":
        out = []
        for i in range(doc.Sheets.getCount()):
            sh = doc.Sheets.getByIndex(i)
            out.append({"name": sh.getName(), "visible": bool(sh.IsVisible), "protected": bool(sh.isProtected())})
        return {"sheets": out, "structure_protected": bool(doc.isProtected())}
    if op == "locked":
        return {f"{s}!{r}": bool(_cell(doc, s, r).CellProtection.IsLocked) for s, r in step["cells"]}
    if op == "validation":
        out = {}
        for s, r in step["cells"]:
            v = _cell(doc, s, r).Validation
            out[f"{s}!{r}"] = {
                "type": v.Type.value,
                "formula1": v.getFormula1(),
                "error_style": v.ErrorAlertStyle.value,
                "show_error": bool(v.ShowErrorMessage),
                "input_title": v.InputTitle,
            }
        return out
    if op == "unprotect":
        for i in range(doc.Sheets.getCount()):
            doc.Sheets.getByIndex(i).unprotect(step["password"])
        return {"ok": True}
    if op == "type":
        # type into cells through the UI dispatcher, as a user at the keyboard would:
        # unlike API writes, this path enforces sheet protection
        ctx = doc.getCurrentController()
        frame = ctx.getFrame()
        helper = _CTX.ServiceManager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", _CTX)
        results = {}
        for s, r, text in step["cells"]:
            sheet = doc.Sheets.getByName(s)
            ctx.setActiveSheet(sheet)
            helper.executeDispatch(frame, ".uno:GoToCell", "", 0, _props(ToPoint=r))
            before = sheet.getCellRangeByName(r).getString()
            helper.executeDispatch(frame, ".uno:EnterString", "", 0, _props(StringName=text))
            results[f"{s}!{r}"] = {"before": before, "after": sheet.getCellRangeByName(r).getString()}
        return results
    if op == "set":
        for s, r, value in step["cells"]:
            cell = _cell(doc, s, r)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.setValue(value)
            else:
                cell.setString(str(value))
        return {"ok": True}
    if op == "formula":
        # write a formula into a scratch cell and read what it computes
        out = {}
        for s, r, formula in step["cells"]:
            cell = _cell(doc, s, r)
            cell.setFormula(formula)
            doc.calculateAll()
            out[f"{s}!{r}"] = _read(cell)
        return out
    if op == "page_breaks":  # how LibreOffice paginates a sheet for printing
        sheet = doc.Sheets.getByName(step["sheet"])
        return {"rows": len(sheet.getRowPageBreaks()), "columns": len(sheet.getColumnPageBreaks())}
    if op == "print_area":  # print only these cells of a sheet (a crop for pictures)
        sheet = doc.Sheets.getByName(step["sheet"])
        sheet.setPrintAreas((sheet.getCellRangeByName(step["range"]).getRangeAddress(),))
        return {"ok": True}
    if op == "only_sheet":
        keep = doc.Sheets.getByName(step["sheet"])
        doc.getCurrentController().setActiveSheet(keep)
        for i in range(doc.Sheets.getCount()):
            sh = doc.Sheets.getByIndex(i)
            if sh.getName() != step["sheet"]:
                sh.IsVisible = False
        return {"ok": True}
    if op == "look":  # how a cell is drawn: background colour and border line widths
        out = {}
        for s, r in step["cells"]:
            cell = _cell(doc, s, r)
            edges = (cell.TopBorder, cell.LeftBorder, cell.BottomBorder, cell.RightBorder)
            out[f"{s}!{r}"] = {
                "back": f"{cell.CellBackColor & 0xFFFFFF:06X}",
                "border": min(e.OuterLineWidth for e in edges),
            }
        return out
    if op == "shapes":  # drawing objects (charts) on a sheet, as LibreOffice loaded them
        page = doc.Sheets.getByName(step["sheet"]).getDrawPage()
        return {"count": page.getCount(), "charts": doc.Sheets.getByName(step["sheet"]).getCharts().getCount()}
    if op == "comments":
        return {f"{s}!{r}": _cell(doc, s, r).getAnnotation().getString() for s, r in step["cells"]}
    if op == "recalc":
        doc.calculateAll()
        return {"ok": True}
    if op == "read":
        return {f"{s}!{r}": _read(_cell(doc, s, r)) for s, r in step["cells"]}
    if op == "print_ranges":
        out = {}
        for i in range(doc.Sheets.getCount()):
            sh = doc.Sheets.getByIndex(i)
            rows = sh.getTitleRows() if sh.getPrintTitleRows() else None
            out[sh.getName()] = {"title_rows": [rows.StartRow, rows.EndRow] if rows else None}
        return out
    raise ValueError(f"unknown op {op}")


if __name__ == "__main__":
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(sys.argv[2]).write_text(json.dumps(run(plan), ensure_ascii=False, indent=1), encoding="utf-8")
