"""The hostile and broken inputs, generated (no opaque binaries in the repository).

`build(out)` writes every case into `out` and returns what `check` must say
about each: its status and the rules it must report. Cases start from a clean
sample (妇女儿童工作专项经费), so any finding is the one the case introduces.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfxl.data import FormData
from perfxl.exchange import fill_file

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "samples" / "data" / "项目支出_01_妇女儿童工作专项经费.json"
SECRET = "PERFXL-SECRET-7f3a"  # what an external entity would leak if it were resolved


@dataclass(frozen=True)
class Expect:
    status: str  # ok / findings / rejected; "skipped" for merge-only cases
    rules: frozenset[str]
    message: str = ""  # a word the message must contain


def base_data() -> FormData:
    return FormData.from_json(json.loads(BASE.read_text(encoding="utf-8")))


def base_bytes(tmp: Path, change: Callable[[FormData], None] | None = None, year: int | None = None) -> bytes:
    data = base_data()
    if year:
        data.year = year
    if change:
        change(data)
    return fill_file(data, tmp / "base.xlsx").read_bytes()


def rezip(
    raw: bytes, edit: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None, stored: bool = False
) -> bytes:
    """Rewrite a package: edit(name, body) returns new bytes, or None to drop the member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = edit(info.filename, src.read(info.filename))
            if body is not None:
                dst.writestr(info.filename, body)
        for name, body in (extra or {}).items():
            dst.writestr(name, body, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


def with_openpyxl(raw: bytes, change: Callable[..., None]) -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(raw))
    change(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_duplicate(raw: bytes, member: str) -> bytes:
    """The package with `member` stored twice (a harmless copy first): the packaging standard
    forbids it, and readers disagree about which copy counts."""
    import warnings

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr(member, src.read(member))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate: that is the point
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def pretty_printed(name: str, body: bytes) -> bytes:
    """What some tools write: a line and an indent between every two tags."""
    if not name.endswith((".xml", ".rels")):
        return body
    from xml.dom import minidom

    return minidom.parseString(body).toprettyxml(indent="  ", encoding="UTF-8")


def prefixed(name: str, body: bytes) -> bytes:
    """The same XML with the main namespace bound to a prefix (x:worksheet, x:c, x:f ...)."""
    if not name.startswith("xl/") or not name.endswith(".xml"):
        return body
    from xml.etree import ElementTree as ET

    ET.register_namespace("x", "http://schemas.openxmlformats.org/spreadsheetml/2006/main")
    ET.register_namespace("r", "http://schemas.openxmlformats.org/officeDocument/2006/relationships")
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(ET.fromstring(body))


def _sheet_part(raw: bytes, sheet_index: int) -> str:
    return f"xl/worksheets/sheet{sheet_index}.xml"


def build(out: Path) -> dict[str, Expect]:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".work"
    tmp.mkdir(exist_ok=True)
    clean = base_bytes(tmp)
    cases: dict[str, tuple[bytes, Expect]] = {}

    def add(name: str, body: bytes, status: str, *rules: str, message: str = "") -> None:
        cases[name] = (body, Expect(status, frozenset(rules), message))

    add("空文件.xlsx", b"", "rejected", "file.unreadable", message="空文件")
    add("文本改名.xlsx", "这只是一段文字，不是工作簿。\n".encode(), "rejected", "file.unreadable", message="不是 xlsx")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\x00" * 1024
    add("旧版格式.xls", ole, "rejected", "file.unreadable", message=".xls")
    add("加密的工作簿.xlsx", ole + b"EncryptedPackage", "rejected", "file.unreadable", message="密码")
    vba = rezip(clean, lambda n, b: b, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 fake vba project"})
    add("带宏的工作簿.xlsm", vba, "findings", "file.macros", message="宏")
    add("截断的文件.xlsx", clean[: len(clean) // 2], "rejected", "file.unreadable", message="不完整")
    bomb = rezip(clean, lambda n, b: b, {"xl/media/bomb.bin": bytes(30 * 1024 * 1024)})
    add("压缩炸弹.xlsx", bomb, "rejected", "file.unreadable", message="压缩")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    )

    def billion(n: str, b: bytes) -> bytes:
        return (
            b.replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', laughs, 1)
            if n == "xl/workbook.xml"
            else b
        )

    add("实体炸弹.xlsx", rezip(clean, billion), "rejected", "file.unreadable", message="DOCTYPE")
    secret_file = tmp / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    xxe = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>'.encode()

    def external(n: str, b: bytes) -> bytes:
        if n != "xl/sharedStrings.xml":
            return b
        b = b.replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', xxe, 1)
        return b.replace("妇女儿童工作专项经费".encode(), b"&xxe;", 1)

    add("外部实体.xlsx", rezip(clean, external), "rejected", "file.unreadable", message="DOCTYPE")

    def sheet_entity(n: str, b: bytes) -> bytes:
        if n != "xl/worksheets/sheet1.xml":
            return b
        return b.replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', xxe, 1)

    add("工作表里的实体.xlsx", rezip(clean, sheet_entity), "rejected", "file.unreadable", message="DOCTYPE")
    decl = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    padded = decl + b"<!--" + b"x" * 8000 + b"-->" + laughs[len(b'<?xml version="1.0"?>') :]

    def late_doctype(n: str, b: bytes) -> bytes:  # a DTD pushed past any fixed-size prefix check
        return b.replace(decl, padded, 1) if n == "xl/workbook.xml" else b

    add("长注释后的实体.xlsx", rezip(clean, late_doctype), "rejected", "file.unreadable", message="DOCTYPE")

    def utf16(n: str, b: bytes) -> bytes:  # the DTD is not in the bytes as ASCII
        if n != "xl/workbook.xml":
            return b
        text = b.replace(decl, laughs.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"'), 1)
        return text.decode("utf-8").encode("utf-16")

    add("UTF-16实体.xlsx", rezip(clean, utf16), "rejected", "file.unreadable", message="DOCTYPE")
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{"数据" * 20}</t></is></c></row>' for r in range(1, 400_001)
    )
    huge = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    ).encode()
    add(
        "100MB的工作表.xlsx",
        rezip(clean, lambda n, b: huge if n == "xl/worksheets/sheet1.xml" else b),
        "rejected",
        "file.unreadable",
        message="MB",
    )

    def long_cell(d: FormData) -> None:
        d.fields["goal"] = "LONGCELLMARK"

    # varied text (a run of one character would compress like a zip bomb)
    one_mb = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1024 * 1024 // 3))
    add(
        "1MB的单元格.xlsx",
        rezip(base_bytes(tmp, long_cell), lambda n, b: b.replace(b"LONGCELLMARK", one_mb.encode())),
        "findings",
        "file.limit",
        "schema.too_long",
        message="截断",
    )

    def beyond(wb: object) -> None:
        ws = wb["绩效指标"]  # type: ignore[index]
        ws.protection.sheet = False
        for r in range(130, 136):
            ws.cell(r, 4, f"多出来的指标{r}")

    add(
        "超出表格容量.xlsx",
        with_openpyxl(clean, beyond),
        "findings",
        "template.rows_beyond_capacity",
        "template.unprotected",
    )

    def dangerous(d: FormData) -> None:
        d.fields["goal"] = '=HYPERLINK("http://example.invalid","点我")'
        d.fields["implementer"] = "=cmd|' /C calc'!A0"
        rows = d.tables["indicators"]
        rows[0]["level3"], rows[1]["level3"], rows[2]["level3"] = "@SUM(A1)", "+1+1", "-2+3"

    add("公式和DDE文字.xlsx", base_bytes(tmp, dangerous), "ok")

    def real_formula(wb: object) -> None:
        ws = wb["项目支出"]  # type: ignore[index]
        ws.protection.sheet = False
        ws["D4"] = "=1+1"

    add(
        "填报格里是公式.xlsx",
        with_openpyxl(clean, real_formula),
        "findings",
        "value.formula_in_input",
        "template.unprotected",
        "schema.required",
    )
    add("其他年度的模板.xlsx", base_bytes(tmp, year=2023), "findings", "template.year")

    def other_version(n: str, b: bytes) -> bytes:
        return b.replace(b">2024.1<", b">2023.9<")

    add("其他版本的模板.xlsx", rezip(clean, other_version), "findings", "template.version")
    dept = (ROOT / "samples" / "部门整体_02_济南市历下区民政局.xlsx").read_bytes()

    def as_project(n: str, b: bytes) -> bytes:
        return b.replace(b"<t>dept</t>", b"<t>project</t>", 1) if n == "xl/sharedStrings.xml" else b

    add("类型不符的模板.xlsx", rezip(dept, as_project), "rejected", "template.kind_mismatch")

    def relabel(wb: object) -> None:
        ws = wb["项目支出"]  # type: ignore[index]
        ws.protection.sheet = False
        ws["A3"] = "名称"

    add(
        "取消保护并改了栏目.xlsx",
        with_openpyxl(clean, relabel),
        "findings",
        "template.label_changed",
        "template.unprotected",
    )

    def drop_sheet(wb: object) -> None:
        del wb["填报说明"]  # type: ignore[attr-defined]

    add("删除了工作表.xlsx", with_openpyxl(clean, drop_sheet), "findings", "template.sheet_missing")

    def rename_sheet(wb: object) -> None:
        wb["绩效指标"].title = "指标"  # type: ignore[index]

    add(
        "改了工作表名.xlsx",
        with_openpyxl(clean, rename_sheet),
        "findings",
        "template.sheet_missing",
        "template.sheet_added",
    )

    def drop_names(wb: object) -> None:
        for name in list(wb.defined_names):  # type: ignore[attr-defined]
            if name.startswith(("fld_", "col_", "tot_")):
                del wb.defined_names[name]  # type: ignore[attr-defined]

    add("删除了定义名称.xlsx", with_openpyxl(clean, drop_names), "findings", "template.names_missing")

    def merge_inputs(wb: object) -> None:
        ws = wb["项目支出"]  # type: ignore[index]
        ws.protection.sheet = False
        ws.merge_cells("C5:C8")

    add(
        "合并了填报格.xlsx",
        with_openpyxl(clean, merge_inputs),
        "findings",
        "template.merged_inputs",
        "template.unprotected",
        "project.funds.total",
        "schema.required",
    )
    add("名字 带“引号”和 空格's.xlsx", clean, "ok")

    # ----- round 2: what must not take down a batch or corrupt the consolidated workbook -----
    def sheet1(change: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
        return lambda n, b: change(b) if n == "xl/worksheets/sheet1.xml" else b

    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    add(
        "最后一格有字.xlsx",
        rezip(clean, sheet1(lambda b: b.replace(b"</sheetData>", far))),
        "findings",
        "file.outside_area",
        "template.rows_beyond_capacity",
        message="XFD1048576",
    )
    no_refs = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 3 + b"</sheetData>"
    add(
        "没有单元格地址.xlsx",
        rezip(clean, sheet1(lambda b: b.replace(b"</sheetData>", no_refs))),
        "findings",
        "template.rows_beyond_capacity",
    )
    budget = b'<c r="C5" s="7"><v>80</v></c>'  # 年度预算资金总额 of the clean form
    for name, raw_value in (("NaN数值", b"NAN"), ("无穷大数值", b"1e400"), ("负无穷数值", b"-INF")):
        body = rezip(clean, sheet1(lambda b, v=raw_value: b.replace(budget, budget.replace(b">80<", b">" + v + b"<"))))
        # reported once, on the cell: the total-vs-sources rule that uses it says 无法校验
        add(f"{name}.xlsx", body, "findings", "value.invalid_number", message="数值无效")
    junk = "".join(
        f'<row r="{r}"><c r="B{r}"><v>{r}</v></c></row>' for r in range(200, 30_200)
    ).encode()  # past the row limit and the far-row bound
    add(
        "三万行垃圾.xlsx",
        rezip(clean, sheet1(lambda b: b.replace(b"</sheetData>", junk + b"</sheetData>"))),
        "findings",
        "template.rows_beyond_capacity",
        "file.outside_area",
        message="30,000 行",
    )
    add(
        "重复的部件名.xlsx",
        with_duplicate(clean, "xl/worksheets/sheet1.xml"),
        "rejected",
        "file.unreadable",
        message="名称重复",
    )
    add(
        "路径穿越的部件.xlsx",
        rezip(clean, lambda n, b: b, {"../../evil.txt": b"x"}),
        "findings",
        "file.suspicious_part",
        message="../../evil.txt",
    )
    add(
        "嵌入的OLE对象.xlsx",
        rezip(clean, lambda n, b: b, {"xl/embeddings/oleObject1.bin": ole}),
        "findings",
        "file.embedded_object",
        message="嵌入",
    )
    add(
        "ActiveX控件.xlsx",
        rezip(clean, lambda n, b: b, {"xl/activeX/activeX1.xml": b"<ax/>"}),
        "findings",
        "file.embedded_object",
        message="ActiveX",
    )
    add(
        "外部链接.xlsx",
        rezip(clean, lambda n, b: b, {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
        "findings",
        "file.external_link",
        message="外部链接",
    )

    def modified(when: bytes) -> Callable[[str, bytes], bytes]:
        stamp = b'<dcterms:modified xsi:type="dcterms:W3CDTF">2020-01-01T00:00:00Z'
        return lambda n, b: (
            b.replace(stamp, stamp.replace(b"2020-01-01T00:00:00Z", when)) if n == "docProps/core.xml" else b
        )

    add(
        "来自未来的修改时间.xlsx",
        rezip(clean, modified(b"9999-12-31T00:00:00Z")),
        "findings",
        "file.untrusted_time",
        message="晚于当前时间",
    )
    add(
        "二进制工作簿.xlsb",
        rezip(clean, lambda n, b: b, {"xl/workbook.bin": b"\x00\x01"}),
        "rejected",
        "file.unreadable",
        message=".xlsb",
    )
    add("缩进排版的XML.xlsx", rezip(clean, pretty_printed), "ok")
    add("带命名空间前缀的XML.xlsx", rezip(clean, prefixed), "ok")

    def controls(d: FormData) -> None:
        d.tables["indicators"][0]["level3"] = "指标\x1b]0;被改的标题\x07\x1b[31m红字\x00"
        d.tables["indicators"][1]["level3"] = "罕见字𠀀与表情😀"

    add("控制字符和罕见字.xlsx", base_bytes(tmp, controls), "ok")
    for name, (body, _) in cases.items():
        (out / name).write_bytes(body)
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return {name: expect for name, (_, expect) in cases.items()}
