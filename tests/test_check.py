"""`check` on real files: the seed's forms filled into templates, typos, tampering."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from seedfill import seed_data

from perfxl.check import CheckReport, check_paths
from perfxl.cli import main
from perfxl.data import FormData
from perfxl.forms import get_spec
from perfxl.package import CopyInfo
from perfxl.read import read_submission
from perfxl.template import render_template

# What the checks must find in the published 2024 forms, and nothing else.
SEED_FINDINGS: dict[str, list[tuple[str, str, str]]] = {
    "济南市历下区教育和体育局": [
        ("年度主要任务", "E34", "dept.tasks.total_vs_project"),  # 43,943.61 vs 68,147.67
        ("年度绩效指标", "F22", "value.malformed_number"),  # 新增学位数量 ≤000 个
        ("部门整体", "C11", "dept.staff.prev"),  # 5820 在职 > 5312 编制
        ("部门整体", "C13", "dept.budget.use_vs_source"),  # 220,942.39 vs 221,270.28
        ("部门整体", "D11", "dept.staff.curr"),
    ],
    "济南市历下区民政局": [
        ("年度主要任务", "E34", "dept.tasks.total_vs_project"),  # 20,507 vs 20,670
        *[("年度绩效指标", f"E{r}", "value.no_operator") for r in (10, 19, 6, 7, 8, 9)],  # "100%"
    ],
    "济南市历下区人民政府建筑新村街道办事处": [
        ("年度主要任务", "E34", "dept.tasks.total_vs_project"),
        *[("年度绩效指标", f"E{r}", "value.no_operator") for r in (10, 19, 6, 7, 8, 9)],
        ("部门整体", "C17", "dept.budget.nature_vs_project"),  # 运转类 6,592.44 ≠ 项目支出 4,247.30
        ("部门整体", "E17", "dept.budget.special_vs_project"),
    ],
    "妇女儿童工作专项经费": [],
    "党校专项业务经费": [],
    "省部级劳模春节慰问金、荣誉津贴": [
        ("绩效指标", "F5", "project.cost.components_vs_total"),  # =2 元, =1.46 元 (万元 meant)
        ("绩效指标", "F7", "project.cost.unit_standard"),  # 1000 元/人 × 20 人 = 2 万元 ≠ 2 元
        ("绩效指标", "F8", "project.cost.unit_standard"),  # 1800 元/人 × 3 人 = 0.54 万元 ≠ 1.46 元
    ],
    "政务大厅运行经费": [],
    "信访业务经费": [("绩效指标", "E12", "value.no_operator"), ("绩效指标", "E8", "value.no_operator")],
    "学生资助类": [("绩效指标", "F6", "value.unit_incomplete"), ("绩效指标", "F7", "value.unit_incomplete")],
    "内贸综合业务专项资金": [
        ("绩效指标", "E72", "value.no_operator"),  # "0 起"
        ("绩效指标", "F28", "project.cost.unit_standard"),  # 12.5 万元/次 × 2 次 = 25 ≠ 50 万元
    ],
    "两馆免费开放": [
        ("绩效指标", "F8", "project.cost.unit_standard"),  # 3 万元/个 × 10 个 = 30 ≠ 20 万元
    ],
    "文旅专项业务经费": [],
    "非遗保护、宣传系列活动": [  # 满意度指标 row left empty
        ("绩效指标", "D14", "project.indicators.level1_missing"),
        ("绩效指标", "D14", "schema.required"),
        ("绩效指标", "E10", "value.no_operator"),
        ("绩效指标", "F14", "schema.required"),
        ("绩效指标", "E8", "value.no_operator"),
    ],
}


def fill(data: FormData, path: Path, *, year: int = 2024, entity: str | None = None) -> Path:
    name = entity or str(data.fields.get("dept_name") or data.fields.get("project_name"))
    competent = str(data.fields.get("competent") or name)
    path.write_bytes(
        render_template(get_spec(data.kind), year, data=data, info=CopyInfo(entity=name, competent=competent))
    )
    return path


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("seed")
    return {name: fill(data, out / f"{name}.xlsx") for name, data in seed_data().items()}


@pytest.fixture(scope="module")
def seed_report(seed_files: dict[str, Path]) -> CheckReport:
    return check_paths(list(seed_files.values()), year=2024)


def projection(report: CheckReport) -> dict[str, list[tuple[str, str, str]]]:
    return {r.entity: sorted((f.sheet, f.cell, f.rule) for f in r.findings) for r in report.files}


def test_seed_forms_give_exactly_the_known_findings(seed_report: CheckReport) -> None:
    assert projection(seed_report) == {k: sorted(v) for k, v in SEED_FINDINGS.items()}


def test_findings_carry_the_contract(seed_report: CheckReport) -> None:
    r = next(r for r in seed_report.files if r.entity == "济南市历下区民政局")
    f = next(f for f in r.findings if f.rule == "dept.tasks.total_vs_project")
    d = f.to_dict()
    fields = {"rule", "severity", "form", "entity", "file", "sheet", "cell", "message", "expected", "actual", "key"}
    assert set(d) == fields and len(d["key"]) == 10  # 问题编号
    assert (d["severity"], d["form"], d["entity"]) == ("warning", "dept", "济南市历下区民政局")
    assert (d["expected"], d["actual"]) == (20670.0, 20507.0)
    assert "20,507.00 万元" in f.message and "-163.00 万元" in f.message


def test_reader_finds_values_by_defined_name(seed_files: dict[str, Path]) -> None:
    sub = read_submission(seed_files["济南市历下区民政局"])
    assert sub.data is not None and not sub.used_fallback
    assert sub.data.fields["exp_basic"] == 1263.27
    assert sub.data.fields["phone"] == "88151213"
    assert len(sub.data.tables["tasks"]) == 7 and len(sub.data.tables["indicators"]) == 48
    assert sub.cell("tasks", 0, "budget").cell == "E4"


# ----- what users type --------------------------------------------------------------


def project(**changes: object) -> FormData:
    data = seed_data()["妇女儿童工作专项经费"]  # a form with no findings
    data.fields.update(changes)  # type: ignore[arg-type]
    return data


def run_one(data: FormData, tmp_path: Path, **kw: object) -> list[tuple[str, str, str]]:
    report = check_paths([fill(data, tmp_path / "f.xlsx", **kw)], year=2024)  # type: ignore[arg-type]
    return sorted((f.sheet, f.cell, f.rule) for f in report.files[0].findings)


@pytest.mark.parametrize("typed", ["80", " 80 ", "８０", "80.00", "80万元"])
def test_numbers_typed_as_text_are_read(typed: str, tmp_path: Path) -> None:
    found = run_one(project(total=typed), tmp_path)
    assert [r for r in found if r[2] not in ("value.text_number", "value.unit_read")] == []


def test_thousands_separator_in_money(tmp_path: Path) -> None:
    data = seed_data()["政务大厅运行经费"]
    data.fields["total"] = "1,616.61"
    assert run_one(data, tmp_path) == []


def test_text_in_money_cell_is_one_error_and_its_rules_are_unchecked(tmp_path: Path) -> None:
    """Reported once, on its cell; the sum that uses it says 无法校验 instead of counting 0
    (which used to add a misleading total-vs-sources error: 40 against 0)."""
    found = run_one(project(fiscal="八十万"), tmp_path)
    assert found == [("项目支出", "C6", "value.not_a_number")]
    (report,) = check_paths([tmp_path / "f.xlsx"], year=2024).files
    (o,) = [o for o, _loc in report.outcomes if o.rule.id == "project.funds.total"]
    assert (o.status, o.right) == ("unchecked", None)


def test_funding_not_adding_up(tmp_path: Path) -> None:
    assert run_one(project(fiscal=30.0), tmp_path) == [("项目支出", "C5", "project.funds.total")]


@pytest.mark.parametrize(("op", "value", "unit", "rule"), [
    (None, "≥90%", None, None),  # whole target pasted into 数值
    (None, "＝100%", None, None),
    (None, "= 100%", None, None),
    (None, "≥1 万册", None, None),
    ("≥", 90, "%", None),
    (">=", 90, "%", None),  # ASCII operator typed over the dropdown
    (None, 90, "%", "value.no_operator"),
    ("≥", 120, "%", "value.percent_over_100"),
    ("≥", 30, None, "value.no_unit"),
    ("定性", "健全", None, None),
    (None, "健全", None, None),
    ("≥", "很多", "次", "value.not_a_number"),
])  # fmt: skip
def test_indicator_typing(op: object, value: object, unit: object, rule: str | None, tmp_path: Path) -> None:
    data = project()
    data.tables["indicators"][7].update(op=op, value=value, unit=unit)  # type: ignore[dict-item]
    found = run_one(data, tmp_path)
    cell = "E11" if rule == "value.no_operator" else "F11"  # fixed in 符号, so pointed there
    assert found == ([] if rule is None else [("绩效指标", cell, rule)])


def test_level2_must_belong_to_level1_and_required_cells(tmp_path: Path) -> None:
    data = project(implementer=None)
    data.tables["indicators"][7].update(level2="经济成本指标")  # under 产出指标
    found = run_one(data, tmp_path)
    assert found == [("绩效指标", "C11", "schema.level_pair"), ("项目支出", "D4", "schema.required")]


def test_alias_level2_accepted(tmp_path: Path) -> None:
    data = seed_data()["妇女儿童工作专项经费"]
    for row in data.tables["indicators"]:
        if row["level2"] == "可持续发展影响指标":
            row["level2"] = "可持续影响指标"
    assert run_one(data, tmp_path) == []


# ----- structure and tampering --------------------------------------------------------


def test_not_a_template_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "其他.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "随便什么表"
    wb.save(p)
    text = tmp_path / "假的.xlsx"
    text.write_text("这不是工作簿", encoding="utf-8")
    report = check_paths([p, text])
    assert [(r.status, [f.rule for f in r.findings]) for r in report.files] == [
        ("rejected", ["file.not_template"]),
        ("rejected", ["file.unreadable"]),
    ]


def test_template_of_another_year(tmp_path: Path) -> None:
    found = run_one(project(), tmp_path, year=2023)
    assert found == [("_meta", "", "template.year")]


def test_relabelled_unprotected_copy(tmp_path: Path) -> None:
    p = fill(project(), tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(p)
    ws = wb["项目支出"]
    ws.protection.sheet = False
    ws["C3"] = "类别"
    ws["C9"] = 40  # the 资金来源合计 formula overwritten by a number
    wb.save(p)
    report = check_paths([p], year=2024)
    found = {(f.sheet, f.cell, f.rule) for f in report.files[0].findings}
    assert found == {
        ("项目支出", "C3", "template.label_changed"),
        ("项目支出", "", "template.unprotected"),
        ("项目支出", "C9", "template.formula_removed"),
    }
    f = next(f for f in report.files[0].findings if f.rule == "template.label_changed")
    assert (f.expected, f.actual) == ("项目类别", "类别")


def test_deleted_sheet(tmp_path: Path) -> None:
    p = fill(project(), tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(p)
    del wb["填报说明"]
    wb.save(p)
    found = [(f.sheet, f.rule) for f in check_paths([p]).files[0].findings]
    assert found == [("填报说明", "template.sheet_missing")]


# ----- CLI --------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_cli_exit_codes_and_report(seed_files: dict[str, Path], tmp_path: Path) -> None:
    clean = str(seed_files["妇女儿童工作专项经费"])
    code, out, _ = cli("check", clean)
    assert code == 0 and "通过，未发现问题" in out
    warn_only = str(seed_files["济南市历下区民政局"])
    code, out, _ = cli("check", warn_only)
    assert code == 0  # only warnings: below the default --fail-on error
    assert "警告  年度主要任务!E34  dept.tasks.total_vs_project" in out
    code, _, _ = cli("check", warn_only, "--fail-on", "warning")
    assert code == 1
    code, _, _ = cli("check", str(seed_files["济南市历下区教育和体育局"]))
    assert code == 1
    code, _, _ = cli("check")
    assert code == 2
    code, _, _ = cli("check", clean, "--fail-on", "fatal")
    assert code == 2


def test_cli_json_contract(seed_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "结果.json"
    code, _, _ = cli("check", *map(str, seed_files.values()), "--json", str(out))
    assert code == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["files"] == 13
    assert doc["summary"]["ok"] == 4
    assert len(doc["findings"]) == sum(len(v) for v in SEED_FINDINGS.values())
    assert {f["rule"] for f in doc["findings"]} >= {"dept.budget.use_vs_source", "value.malformed_number"}


def test_cli_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    code, out, _ = cli("check", str(tmp_path / "不存在.xlsx"))
    assert code == 1 and "file.unreadable" in out


def test_annotated_copy(seed_files: dict[str, Path], tmp_path: Path) -> None:
    src = seed_files["济南市历下区教育和体育局"]
    before = src.read_bytes()
    code, _, err = cli("check", str(src), "--annotate", str(tmp_path / "标注"))
    assert code == 1 and "标注副本" in err
    assert src.read_bytes() == before  # the input is never modified
    out = tmp_path / "标注" / "济南市历下区教育和体育局_校验结果.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    assert wb.sheetnames[0] == "校验结果"
    cell = wb["部门整体"]["C13"]
    assert cell.fill.fgColor.rgb.endswith("FF8B8B") and cell.border.left.style == "thick"  # red, boxed
    assert "按支出类型合计" in cell.comment.text
    assert wb["年度绩效指标"]["F22"].comment is not None
    results = wb["校验结果"]
    assert results.max_row == 1 + len(SEED_FINDINGS["济南市历下区教育和体育局"])
    links = [results.cell(r, 3).hyperlink for r in range(2, results.max_row + 1)]
    assert all(h is not None and h.location for h in links)
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert wb.security is not None and wb.security.lockStructure


CELL_XML = st.sampled_from([
    '<c r="{ref}" s="3"><f>SUM(A1:A3)</f><v>6</v></c>', '<c r="{ref}"><f t="shared" ref="A1:A9" si="0"/><v>1</v></c>',
    '<c r="{ref}" t="s"><v>4</v></c>', '<c r="{ref}" s="2"/>',
    '<c r="{ref}" t="inlineStr"><is><t>&lt;f&gt;</t></is></c>',
    '<c r="{ref}" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>', '<c r="{ref}"><v>1</v><f>A1</f></c>',
    # what other writers do: prefixes, attribute order, single quotes, pretty-printing
    '<x:c r="{ref}" s="3"><x:f>SUM(A1)</x:f></x:c>', "<c s='1' r='{ref}'>\n    <f>A1</f>\n  </c>",
    '<c s="1" r="{ref}"/>', '<x:c r="{ref}"><x:v>1</x:v><x:f>A1</x:f></x:c>',
])  # fmt: skip


@given(cells=st.lists(st.tuples(CELL_XML, st.from_regex(r"[A-Z]{1,2}[1-9][0-9]{0,3}", fullmatch=True)), max_size=30))
def test_formula_cells_found_like_a_full_scan(cells: list[tuple[str, str]]) -> None:
    """The look-back scan finds exactly the cells whose first child is <f>, as a regex over every <c> does."""
    import re

    from perfxl.read import formula_cells

    xml = (
        '<worksheet><sheetData><row r="1">'
        + "".join(t.format(ref=ref) for t, ref in cells)
        + "</row></sheetData><fills><fill/></fills></worksheet>"
    ).encode()
    opened = re.finditer(rb"<(?:x:)?c\s([^>]*)>\s*<(?:x:)?f[\s>/]", xml)
    full = {
        re.search(rb"""r=["']([A-Z]+[0-9]+)""", m.group(1)).group(1).decode()
        for m in opened  # type: ignore[union-attr]
        if not m.group(1).endswith(b"/")
    }
    assert formula_cells(xml) == full
    assert full == {ref for t, ref in cells if re.search(r"<(x:)?c [^>]*>\s*<(x:)?f", t.split("v>")[0])}


def test_a_checking_worker_finds_the_same_without_hypothesis(seed_report: CheckReport) -> None:
    """Checking workers keep pandera from importing hypothesis (0.2 s per worker, for data
    strategies checking never uses): the findings are the same as with it loaded."""
    import subprocess
    import sys

    paths = [str(f.path) for f in seed_report.files]
    code = (
        "import json, os, sys\nfrom pathlib import Path\nfrom perfxl.workers import _checker\n"
        "_checker(os.getppid())\nfrom perfxl.check import check_paths\n"
        "r = check_paths([Path(p) for p in sys.argv[1:]])\n"
        "print(json.dumps([sys.modules.get('hypothesis') is None, [[f.key for f in x.findings] for x in r.files]]))"
    )
    out = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, check=True).stdout
    blocked, keys = json.loads(out)
    assert blocked
    assert keys == [[f.key for f in x.findings] for x in seed_report.files]


def test_a_report_travels_by_value_its_targets_unpacked_on_use() -> None:
    """Pickled (the report cache, the checking workers), a report comes back equal; its targets
    are unpacked only when used, and a report passed on before that still carries them."""
    import pickle

    sample = Path(__file__).resolve().parents[1] / "samples" / "部门整体_02_济南市历下区民政局.xlsx"
    (report,) = check_paths([sample], year=2024).files
    assert report.targets
    back = pickle.loads(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL))
    assert "targets" not in vars(back)  # not yet unpacked
    again = pickle.loads(pickle.dumps(back, protocol=pickle.HIGHEST_PROTOCOL))  # passed on as it came
    assert again == report and back == report
    assert back.targets == report.targets and "targets" in vars(back)
    with pytest.raises(AttributeError):
        back.no_such_attribute  # noqa: B018
