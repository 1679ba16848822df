"""samples/: the seed's 13 forms, exactly as published; the JSON round trip; bad samples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bad_samples import CASES, build_bad
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seed import forms, seed_text

from perfxl.catalog import read_catalog
from perfxl.check import check_paths
from perfxl.cli import main
from perfxl.data import FormData, json_schema
from perfxl.exchange import export_file, fill_file
from perfxl.forms import get_spec
from perfxl.forms.model import NUMERIC_TYPES, ValueType
from perfxl.values import parse_target

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DATA = SAMPLES / "data"
PREFIX = {"dept": "部门整体", "project": "项目支出"}


def entries() -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.name, f"{PREFIX[e.kind]}_{int(e.seq):02d}_{e.name}") for e in read_catalog(SAMPLES / "catalog.csv")
    ]


def load(stem: str) -> FormData:
    return FormData.from_json(json.loads((DATA / f"{stem}.json").read_text(encoding="utf-8")))


def test_thirteen_samples_as_json_and_workbooks() -> None:
    stems = [s for _, _, s in entries()]
    assert len(stems) == 13
    assert sorted(p.stem for p in DATA.glob("*.json")) == sorted(stems)
    assert sorted(p.stem for p in SAMPLES.glob("*.xlsx")) == sorted(stems)


@pytest.mark.parametrize("stem", [s for _, _, s in entries()])
def test_workbook_is_fill_of_json_and_exports_back(stem: str, tmp_path: Path) -> None:
    data = load(stem)
    seq = stem.split("_")[1].lstrip("0")
    fresh = fill_file(data, tmp_path / "x.xlsx", seq=seq)
    assert fresh.read_bytes() == (SAMPLES / f"{stem}.xlsx").read_bytes(), "run scripts/make_samples.py"
    assert export_file(SAMPLES / f"{stem}.xlsx").dumps() == (DATA / f"{stem}.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["dept", "project"])
def test_json_schema_is_current_and_samples_validate(kind: str) -> None:
    import jsonschema

    schema = json_schema(get_spec(kind))
    committed = json.loads((ROOT / "docs" / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    assert committed == schema, "regenerate: perfxl json-schema --kind KIND > docs/schema/KIND.schema.json"
    jsonschema.Draft202012Validator.check_schema(schema)
    for k, _, stem in entries():
        if k == kind:
            jsonschema.validate(json.loads((DATA / f"{stem}.json").read_text(encoding="utf-8")), schema)


# ----- faithful to the seed -------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+|</?p>", "", text)


# Where a sample cannot hold the seed's text byte for byte, and why.
TEXT_DEVIATIONS = {
    ("济南市历下区教育和体育局", "tasks", 3, "function"): "PDF 中单元格折成两行，合并为一格",
    ("济南市历下区教育和体育局", "tasks", 3, "task"): "PDF 中单元格折成两行，合并为一格",
}


def test_samples_match_the_seed() -> None:
    text = _squash(seed_text())
    deviations: dict[str | None, int] = {}
    by_name = {name: (kind, stem) for kind, name, stem in entries()}
    for f in forms():
        kind, stem = by_name[f.name]
        data = load(stem)
        spec = get_spec(kind)
        # every amount
        for fid, value in f.money.items():
            assert data.fields[fid] == value, (f.name, fid)
        # every text field is the seed's own text
        for fd in spec.fields:
            v = data.fields.get(fd.id)
            if isinstance(v, str):
                assert _squash(v) in text, (f.name, fd.id, v[:40])
            elif fd.type not in NUMERIC_TYPES:
                assert v is None or fd.type is ValueType.PHONE, (f.name, fd.id)
        for tid, rows in data.tables.items():
            for i, row in enumerate(rows):
                for cid, v in row.items():
                    if tid == "indicators" and cid in ("op", "value", "unit"):
                        continue  # targets are compared below, as published
                    if isinstance(v, str) and (f.name, tid, i, cid) not in TEXT_DEVIATIONS:
                        assert _squash(v) in text, (f.name, tid, i, cid, v[:40])
        # tasks: row count, every amount
        if kind == "dept":
            assert len(data.tables["tasks"]) == len(f.tasks)
            for row, task in zip(data.tables["tasks"], f.tasks, strict=True):
                nums = [float(t.replace(",", "")) for t in task if re.fullmatch(r"[\d,]+\.\d+", t)]
                assert [row[c] for c in ("budget", "fiscal", "other")][: len(nums)] == nums
        # every indicator row: names and the target as published
        rows = data.tables["indicators"]
        assert len(rows) == len(f.indicators), f.name
        for row, (l1, l2, l3, target) in zip(rows, f.indicators, strict=True):
            assert (row["level1"], row["level2"], row["level3"] or "") == (l1, l2, l3)
            assert _target_of(row) == _semantic(parse_target(target)), (f.name, l3, target)
            kind_of = _deviation(row, target)
            assert kind_of in (None, "fullwidth_operator", "spacing"), (f.name, l3, target)
            deviations[kind_of] = deviations.get(kind_of, 0) + 1
    # the only ways a target's text differs from print, and how often
    assert deviations == {None: 271, "fullwidth_operator": 147, "spacing": 14}


def _semantic(t: object) -> tuple[object, ...]:
    return (t.op, t.number, t.unit, t.text)  # type: ignore[attr-defined]


def _target_of(row: dict[str, object]) -> tuple[object, ...]:
    value = row["value"]
    if row["op"] == "定性":
        return ("定性", None, "", value)
    text = f"{row['op'] or ''}{'' if value is None else value} {row['unit'] or ''}".strip()
    return _semantic(parse_target(text if value is not None else ""))


def _deviation(row: dict[str, object], target: str) -> str | None:
    """How the three cells differ from the published string, if at all."""
    if row["op"] == "定性" or not target:
        return None
    op = str(row["op"] or "")
    typed = f"{op}{row['value']}{' ' if row['unit'] and row['unit'] != '%' else ''}{row['unit'] or ''}"
    if typed == target:
        return None
    half = str.maketrans("＝＞＜", "=><")
    if typed.translate(half) == target.translate(half):
        return "fullwidth_operator"  # the 符号 dropdown holds ＝＞＜ where the PDF printed = > <
    if typed.translate(half).replace(" ", "") == target.translate(half).replace(" ", ""):
        return "spacing"  # "= 100%", "≥1 万册": spacing is not kept across three cells
    return "other"


# ----- JSON round trip ---------------------------------------------------------------------

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"), min_size=1, max_size=60
).filter(lambda s: s.strip() == s and s != "")
long_text = (
    st.text(alphabet="预算绩效目标管理年度任务，。、（）abc 123\n", min_size=1, max_size=3000)
    .map(str.strip)
    .filter(bool)
)
money = st.decimals(min_value=0, max_value=10**9, places=2).map(float)


@st.composite
def form_data(draw: st.DrawFn, kind: str) -> FormData:
    spec = get_spec(kind)

    def value(t: ValueType, max_length: int | None) -> object:
        if t in NUMERIC_TYPES:
            return draw(
                st.one_of(
                    st.none(),
                    money if t is ValueType.MONEY else st.integers(0, 10**6),
                    st.sampled_from(["1,616.61", " 80 ", "四十万"]),
                )
            )
        if t is ValueType.TARGET:
            return draw(st.one_of(st.none(), money, text))
        if t is ValueType.LONGTEXT:
            return draw(st.one_of(st.none(), long_text))
        return draw(st.one_of(st.none(), text.map(lambda s: s[: max_length or 60])))

    fields = {f.id: value(f.type, f.max_length) for f in spec.fields}
    tables = {}
    for t in spec.tables:
        n = draw(st.one_of(st.integers(0, 3), st.just(t.capacity)))
        rows = []
        for _ in range(n):
            row = {c.id: value(c.type, c.max_length) for c in t.columns}
            if all(v is None for v in row.values()):
                row[t.columns[0].id] = "内容"
            rows.append(row)
        tables[t.id] = rows
    return FormData(kind=kind, year=draw(st.integers(2020, 2030)), fields=fields, tables=tables)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.sampled_from(["dept", "project"]).flatmap(form_data))
def test_export_of_fill_is_identity(data: FormData, tmp_path: Path) -> None:
    path = fill_file(data, tmp_path / "rt.xlsx")
    assert export_file(path).to_json() == data.to_json()


def test_cli_fill_and_export(tmp_path: Path) -> None:
    src = DATA / "项目支出_08_两馆免费开放.json"
    out = tmp_path / "两馆.xlsx"
    r = CliRunner().invoke(main, ["fill", "--kind", "project", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["export", str(out), "-o", "-"])
    assert r.exit_code == 0 and r.stdout == src.read_text(encoding="utf-8")
    r = CliRunner().invoke(main, ["fill", "--kind", "dept", str(src), "-o", str(out)])
    assert r.exit_code == 2 and "不一致" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "project", "year": 2024, "fields": {"nope": 1}}', encoding="utf-8")
    r = CliRunner().invoke(main, ["fill", str(bad), "-o", str(out)])
    assert r.exit_code == 2 and "未知字段 nope" in r.stderr
    r = CliRunner().invoke(main, ["export", str(bad), "-o", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "Traceback" not in r.stderr


# ----- bad samples ----------------------------------------------------------------------------


def test_bad_samples_are_current(tmp_path: Path) -> None:
    fresh = build_bad(tmp_path / "bad", DATA)
    committed = sorted((SAMPLES / "bad").glob("*.xlsx"))
    assert [p.name for p in sorted(fresh)] == [p.name for p in committed]
    for case in CASES:
        if case.after is None:  # edits made with openpyxl carry a save time
            assert (tmp_path / "bad" / f"{case.name}.xlsx").read_bytes() == (
                SAMPLES / "bad" / f"{case.name}.xlsx"
            ).read_bytes(), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_sample_findings(case: object) -> None:
    report = check_paths([SAMPLES / "bad" / f"{case.name}.xlsx"], year=2024)  # type: ignore[attr-defined]
    found = sorted((f.sheet, f.cell, f.rule) for f in report.files[0].findings)
    assert found == sorted(case.expected)  # type: ignore[attr-defined]
