"""The declarative rules: semantics in Python, and formulas that mirror them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfxl.findings import Severity
from perfxl.rules import (
    RULES,
    RULES_BY_ID,
    Missing,
    Op,
    Resolver,
    Rule,
    colsum,
    evaluate,
    fld,
    result_formula,
    result_text,
    rules_for,
    side_formula,
)

USE_VS_SOURCE = RULES_BY_ID["dept.budget.use_vs_source"]
STAFF = RULES_BY_ID["dept.staff.curr"]


def test_registry_ids_unique_and_chinese_titles() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.id.startswith(f"{r.kind}.")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.title)
    assert {r.id for r in rules_for("project")} == {
        "project.funds.total",
        "project.cost.total_vs_budget",
        "project.cost.components_vs_total",
        "project.cost.unit_standard",
        "project.scale.cost_vs_budget",
        "project.scale.budget_vs_cost",
    }


def test_magnitude_rules_flag_yuan_typed_for_wan_and_skip_zeros() -> None:
    """A project typed in 元 (571,000 against a cost indicator of 57.10 万元) is warned;
    close magnitudes pass; a zero on either side is no ratio and is skipped."""
    low = RULES_BY_ID["project.scale.cost_vs_budget"]
    high = RULES_BY_ID["project.scale.budget_vs_cost"]
    assert [o.status for o in evaluate(low, {"cost_total": 57.10, "total": 571_000})] == ["fail"]
    assert [o.status for o in evaluate(high, {"cost_total": 571_000, "total": 57.10})] == ["fail"]
    for cost, total in ((57.10, 57.10), (1.0, 99.0), (999.0, 1.0)):
        assert evaluate(low, {"cost_total": cost, "total": total})[0].status == "pass", (cost, total)
        assert evaluate(high, {"cost_total": cost, "total": total})[0].status == "pass", (cost, total)
    assert evaluate(low, {"cost_total": 0, "total": 80})[0].status == "skip"
    rows = RULES_BY_ID["dept.scale.task_vs_project"]
    found = evaluate(rows, {"exp_project": 20.67}, {"tasks": [{"budget": 20_670.0}, {"budget": 20.0}]})
    assert [o.status for o in found] == ["pass", "pass"]
    found = evaluate(rows, {"exp_project": 2.0}, {"tasks": [{"budget": 20_670.0}, {"budget": 2.0}]})
    assert [o.status for o in found] == ["fail", "pass"]


def test_a_term_that_cannot_be_read_makes_the_rule_unchecked_not_zero() -> None:
    nan = float("nan")
    (o,) = evaluate(RULES_BY_ID["project.funds.total"], {"total": 80, "fiscal": nan, "carryover": 0, "other": 0})
    assert (o.status, o.left, o.right) == ("unchecked", 80, None)


def test_tolerance_derives_from_precision() -> None:
    assert USE_VS_SOURCE.tol == pytest.approx(0.02)  # 4 terms × ±0.005 万元
    assert RULES_BY_ID["project.funds.total"].tol == pytest.approx(0.02)
    assert STAFF.tol == 0  # head counts are exact


@pytest.mark.parametrize(("fields", "status", "text"), [
    ({"exp_basic": 1263.27, "exp_project": 20670, "src_fiscal": 21933.27, "src_other": 0}, "pass", "✓"),
    ({"exp_basic": 1263.27, "exp_project": 20670, "src_fiscal": 21933.28, "src_other": 0}, "pass", "✓"),
    ({"exp_basic": 152794.72, "exp_project": 68147.67, "src_fiscal": 220942.39, "src_other": 327.89},
     "fail", "✗ 差额 -327.89"),
    ({"exp_basic": 10, "src_fiscal": 10}, "pass", "✓"),  # blanks count as 0
    ({}, "skip", ""),
])  # fmt: skip
def test_equality_rule(fields: dict, status: str, text: str) -> None:
    (o,) = evaluate(USE_VS_SOURCE, fields)
    assert o.status == status
    assert result_text(o) == text


def test_le_rule_and_skip_when_incomplete() -> None:
    (o,) = evaluate(STAFF, {"staff_actual_curr": 5820, "staff_quota_curr": 5312})
    assert (o.status, o.diff, result_text(o)) == ("fail", 508, "✗ 超出 508")
    (o,) = evaluate(STAFF, {"staff_actual_curr": 36, "staff_quota_curr": 36})
    assert o.status == "pass"
    (o,) = evaluate(STAFF, {"staff_actual_curr": 36})
    assert o.status == "skip"  # Missing.SKIP: no quota, nothing to compare


def test_row_rule_yields_one_outcome_per_filled_row() -> None:
    rule = RULES_BY_ID["dept.tasks.row_sum"]
    rows = [
        {"budget": 286.26, "fiscal": 114.0, "other": 172.26},
        {"budget": None, "fiscal": None, "other": None},
        {"budget": 10.0, "fiscal": 9.0, "other": None},
    ]
    out = evaluate(rule, {}, {"tasks": rows})
    assert [(o.row, o.status) for o in out] == [(0, "pass"), (2, "fail")]
    assert result_text(out[1]) == "✗ 差额 1.00"


def test_column_total_rule() -> None:
    rule = RULES_BY_ID["dept.tasks.total_vs_project"]
    rows = [{"budget": 2613.0}, {"budget": 16232.0}, {"budget": 1662.0}]
    (o,) = evaluate(rule, {"exp_project": 20670.0}, {"tasks": rows})
    assert (o.left, o.right, o.status, o.rule.severity) == (20507.0, 20670.0, "fail", Severity.WARNING)


def test_flag_strategy_reports_incomplete() -> None:
    rule = Rule(
        id="x.flag",
        kind="project",
        title="测试",
        left_label="a",
        left=(fld("a"),),
        op=Op.EQ,
        right_label="b",
        right=(fld("b"),),
        severity=Severity.ERROR,
        missing=Missing.FLAG,
    )
    (o,) = evaluate(rule, {"a": 1.0})
    assert o.status == "incomplete" and result_text(o) == "✗ 未填完整"


RES = Resolver(
    field=lambda f: f"'S'!${f}$1", column=lambda t, c: f"'T'!${c}$1:${c}$9", row_cell=lambda t, c, r: f"{c}{r + 1}"
)


def test_formulas_mirror_the_rule() -> None:
    assert side_formula(USE_VS_SOURCE.left, RES) == "SUM('S'!$exp_basic$1,'S'!$exp_project$1)"
    assert side_formula((colsum("tasks.budget"), fld("x", -1)), RES) == ("SUM('T'!$budget$1:$budget$9)-SUM('S'!$x$1)")
    f = result_formula(USE_VS_SOURCE, "C1", "D1", "(P)")
    assert f.startswith('IF((P)=0,"",IF(ABS(ROUND((C1)-(D1),6))<=0.020000001,"✓"')
    assert '"✗ 差额 "&TEXT((C1)-(D1),"#,##0.00")' in f
    f = result_formula(STAFF, "C1", "D1", "(P)")
    assert f.startswith('IF((P)<2,"",') and '"#,##0"' in f and "超出" in f


money = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False).map(float)


@given(a=money, b=money, cents=st.integers(min_value=-6, max_value=6))
def test_equality_tolerance_is_half_a_cent_per_term(a: float, b: float, cents: int) -> None:
    c = round(a + b + cents / 100, 2)
    fields = {"exp_basic": a, "exp_project": b, "src_fiscal": c, "src_other": 0.0}
    (o,) = evaluate(USE_VS_SOURCE, fields)
    swapped = {"exp_basic": c, "exp_project": 0.0, "src_fiscal": a, "src_other": b}
    (s,) = evaluate(USE_VS_SOURCE, swapped)
    assert o.status == s.status
    # four terms, each rounded to the cent: up to 2 cents of difference is rounding
    assert (o.status == "pass") == (abs(round(c * 100) - round((a + b) * 100)) <= 2)
    if o.status == "fail":
        assert result_text(o) == f"✗ 差额 {(a + b) - c:,.2f}"


@given(a=st.text(alphabet="人次元培训经费标准aa", max_size=14), b=st.text(alphabet="人次元培训经费标准aa", max_size=14))
def test_longest_common_substring_matches_its_definition(a: str, b: str) -> None:
    from perfxl.derive import _lcs

    brute = max((j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1) if a[i:j] in b), default=0)
    assert _lcs(a, b) == brute


def test_registered_rules_pickle_as_the_registry_object() -> None:
    """Outcomes come back from worker processes; their rules must be the registry's own."""
    import dataclasses
    import pickle

    from perfxl.rules import RULES

    for rule in RULES:
        assert pickle.loads(pickle.dumps(rule)) is rule
    other = dataclasses.replace(RULES[0], id="test.unregistered")
    assert pickle.loads(pickle.dumps(other)) == other  # by value when not in the registry


def test_outcomes_come_back_from_the_cache_as_they_went_in() -> None:
    import math
    import pickle

    from perfxl.rules import RULES, Outcome

    for o in [
        Outcome(rule=RULES[0], row=None, left=1.5, right=2.0, status="fail"),
        Outcome(rule=RULES[-1], row=3, left=None, right=math.inf, status="unchecked"),
    ]:
        back = pickle.loads(pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == o and back.rule is o.rule
