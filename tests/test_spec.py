"""The specs against the seed: labels, frames and capacities come from the real forms."""

from __future__ import annotations

import dataclasses

import pytest
from seed import forms, seed_text

from perfxl.errors import SpecError
from perfxl.forms import get_spec, validate_spec
from perfxl.forms.model import Input, Row, TableBlock, Text
from perfxl.layout import build_layout
from perfxl.vocab import FRAMES

# The seed's labels for each form, in the order the seed prints them.
SEED_LABELS = {
    "dept": [
        "部门名称", "联系人", "联系电话", "部门职能", "职能依据", "部门战略目标", "年度绩效目标",
        "部门基本信息", "直属单位一并纳入本表填报的预算绩效管理范围", "人员情况", "内容", "上年",
        "当年", "人员编制数（人）", "在职人员总数（人）", "预算情况（万元）", "按支出类型分",
        "按来源类型分", "基本支出", "财政拨款", "项目支出", "其他资金", "按支出性质分",
        "区（县）级财政专项资金", "运转类支出", "区（县）本级安排", "特定目标类支出",
        "上级转移支付", "年度主要任务", "职能", "政策或重点任务", "对应的拟安排项目", "预算资金",
        "年度绩效指标", "一级指标", "二级指标", "三级指标",
    ],
    "project": [
        "项目名称", "项目类别", "主管部门", "实施单位", "项目资金", "年度预算资金总额", "财政拨款",
        "上年结转资金", "其他资金", "年度总体绩效目标", "绩效指标", "一级指标", "二级指标",
        "三级指标",
    ],
}  # fmt: skip


GENERIC = {"职能", "内容", "上年", "当年"}  # headings reused by several tables


def spec_texts(kind: str) -> list[str]:
    """Every visible text of the form, in layout order (sheet by sheet)."""
    spec = get_spec(kind)
    layout = build_layout(spec, 2024)
    return [c.text for c in layout.cells() if c.text] + [spec.title]


@pytest.mark.parametrize("kind", ["dept", "project"])
def test_every_seed_label_is_in_the_seed_and_on_the_form(kind: str) -> None:
    text = seed_text()
    shown = spec_texts(kind)
    for label in SEED_LABELS[kind]:
        assert label in text, label
        assert any(label in s for s in shown), f"{kind}: {label} missing from the template"


@pytest.mark.parametrize("kind", ["dept", "project"])
def test_sheet_contents_follow_the_seed_order(kind: str) -> None:
    """Within each sheet, seed labels appear in the seed's relative order."""
    spec = get_spec(kind)
    layout = build_layout(spec, 2024)
    order = {label: i for i, label in enumerate(SEED_LABELS[kind])}
    for sl in layout.sheets:
        seen = [
            order[c.text.removeprefix("其中：")]
            for c in sorted(sl.cells, key=lambda c: (c.row, c.col))
            if c.text and c.role != "title" and c.text.removeprefix("其中：") in order and c.text not in GENERIC
        ]
        firsts = list(dict.fromkeys(seen))
        assert firsts == sorted(firsts), (sl.spec.name, [SEED_LABELS[kind][i] for i in firsts])


def test_seed_indicator_pairs_are_in_the_frames() -> None:
    for f in forms():
        frame = FRAMES[get_spec(f.kind).frame]
        pairs = set(frame.pairs())
        for l1, l2, _l3, _target in f.indicators:
            assert (l1, frame.canonical_level2(l2)) in pairs, (f.name, l1, l2)


def test_capacities_hold_the_largest_seed_tables_with_margin() -> None:
    sizes: dict[tuple[str, str], int] = {}
    for f in forms():
        for table, n in (("indicators", len(f.indicators)), ("tasks", len(f.tasks))):
            key = (f.kind, table)
            sizes[key] = max(sizes.get(key, 0), n)
    assert sizes[("project", "indicators")] == 79  # 内贸综合业务专项资金
    assert sizes[("dept", "indicators")] == 66  # 教育和体育局
    for (kind, table), n in sizes.items():
        if n:
            assert get_spec(kind).table(table).capacity >= 1.5 * n, (kind, table, n)


@pytest.mark.parametrize("kind", ["dept", "project"])
def test_year_is_a_parameter(kind: str) -> None:
    assert any("2024" in t for t in spec_texts(kind))
    layout = build_layout(get_spec(kind), 2031)
    texts = [c.text for c in layout.cells() if c.text]
    assert any("2031" in t for t in texts) and not any("2024" in t for t in texts)


def test_every_field_placed_once_and_bad_specs_rejected() -> None:
    spec = get_spec("project")
    placed = [
        i.field for s in spec.sheets for b in s.blocks if isinstance(b, Row) for i in b.items if isinstance(i, Input)
    ]
    assert sorted(placed) == sorted(f.id for f in spec.fields)
    assert [b.table for s in spec.sheets for b in s.blocks if isinstance(b, TableBlock)] == ["indicators"]
    first = spec.sheets[0]
    broken_row = Row((Text("多余"), Input("total")))  # total placed twice
    broken = dataclasses.replace(
        spec, sheets=(dataclasses.replace(first, blocks=(*first.blocks, broken_row)), *spec.sheets[1:])
    )
    with pytest.raises(SpecError, match="placed exactly once"):
        validate_spec(broken)
    too_wide = Row((Text("x", span=9),))
    broken = dataclasses.replace(
        spec, sheets=(dataclasses.replace(first, blocks=(too_wide, *first.blocks)), *spec.sheets[1:])
    )
    with pytest.raises(SpecError, match="spans"):
        validate_spec(broken)
    with pytest.raises(SpecError):
        get_spec("budget")
