"""The indicator-value and amount parsers, on what users type and on the whole seed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seed import forms

from perfxl.values import normalise, parse_amount, parse_target, scale_unit, to_wan
from perfxl.vocab import OPERATORS

OPS = [o for o in OPERATORS if o != "定性"]


@pytest.mark.parametrize(("typed", "op", "number", "unit"), [
    ("≥90%", "≥", 90, "%"),
    ("＝100%", "＝", 100, "%"),
    ("= 100%", "＝", 100, "%"),
    ("=100%", "＝", 100, "%"),
    (">=95%", "≥", 95, "%"),
    ("＞85%", "＞", 85, "%"),
    ("<1 天", "＜", 1, "天"),
    ("≤80 万元", "≤", 80, "万元"),
    ("≤0.325 万元/人", "≤", 0.325, "万元/人"),
    ("≥1 万册", "≥", 1, "万册"),
    ("=3343.88 平方米", "＝", 3343.88, "平方米"),
    ("≥２５０，０００ 件", "≥", 250000, "件"),  # full-width digits and comma
    ("　≥ 30 次　", "≥", 30, "次"),  # ideographic spaces
    ("不低于 95%", "≥", 95, "%"),
])  # fmt: skip
def test_targets_as_typed(typed: str, op: str, number: float, unit: str) -> None:
    t = parse_target(typed)
    assert (t.op, t.number, t.unit) == (op, number, unit)
    assert t.problems == ()


@pytest.mark.parametrize(("typed", "codes"), [
    ("100%", ["no_operator"]),
    ("300 元/人/次", ["no_operator"]),
    ("≤000 个", ["malformed_number"]),
    ("=1900/生/年", ["unit_incomplete"]),
    ("≥120%", ["percent_over_100"]),
    ("≥30", ["no_unit"]),
    ("≥abc", ["not_a_number"]),
    ("≥1OO %", ["malformed_number"]),  # letter O for zero
    ("≥95.5.0 %", ["malformed_number"]),  # a second decimal point
    ("≥2,40 人", ["malformed_number"]),  # a misplaced thousands separator
    ("＝５O％", ["malformed_number"]),  # full width, O for zero
    ("2024/3/1 所", ["malformed_number"]),  # a date typed into a count
    ("≥90~95%", ["malformed_number"]),  # a range is not one target
    ("≥8 台", ["unit_unlisted"]),  # a plausible unit outside the list: a hint
    ("≥3 m²", ["unit_unlisted"]),
    ("", ["empty"]),
    ("*", ["placeholder"]),
    ("详见附件", ["placeholder"]),
])  # fmt: skip
def test_target_problems(typed: str, codes: list[str]) -> None:
    assert [p.code for p in parse_target(typed).problems] == codes


@pytest.mark.parametrize("word", ["健全", "合规", "公开", "有效化解", "持续优化", "定性：良好"])
def test_qualitative(word: str) -> None:
    t = parse_target(word)
    assert t.qualitative and t.number is None and t.problems == ()
    assert t.text == word.removeprefix("定性：")


def test_units_scale_and_money() -> None:
    assert scale_unit(1, "万册") == (10000, "册")
    assert scale_unit(80, "万元") == (80, "万元")  # money stays in 万元
    assert to_wan(2, "元") == pytest.approx(0.0002)
    assert to_wan(80, "万元") == 80
    assert to_wan(3, "次") is None


@pytest.mark.parametrize(("typed", "value", "codes"), [
    ("1,616.61", 1616.61, []),
    (" 80 ", 80, []),
    ("８０.５", 80.5, ["text_number"]),  # info: read as 80.5
    ("80万元", 80, ["unit_read"]),
    ("80元", None, ["unit_in_amount"]),
    ("八十", None, ["not_a_number"]),
    (-3, -3, ["negative"]),
    (1.234, 1.234, ["too_precise"]),
    ("", None, []),
    (None, None, []),
])  # fmt: skip
def test_amounts_as_typed(typed: object, value: float | None, codes: list[str]) -> None:
    a = parse_amount(typed)
    assert a.value == value
    assert [p.code for p in a.problems] == codes


def test_every_seed_target_parses_and_the_malformed_ones_are_listed() -> None:
    problems: dict[tuple[str, str], list[str]] = {}
    count = 0
    for f in forms():
        for _l1, _l2, l3, target in f.indicators:
            count += 1
            t = parse_target(target)
            assert t.qualitative or t.number is not None or not target, target
            errors = [p.code for p in t.problems if p.code != "no_operator"]
            if errors:
                problems[(f.name, l3)] = errors
    assert count == 432  # every indicator row of the 13 forms
    assert problems == {
        ("济南市历下区教育和体育局", "新增学位数量"): ["malformed_number"],  # ≤000 个
        ("学生资助类", "免作业费经费标准"): ["unit_incomplete"],  # =1900/生/年
        ("学生资助类", "学生医保补助标准"): ["unit_incomplete"],  # =3800/生/年
        ("非遗保护、宣传系列活动", ""): ["empty"],  # 满意度指标 row with nothing in it
    }


targets = st.builds(
    lambda op, n, unit, sp: f"{op}{sp}{n}{sp}{unit}",
    st.sampled_from([*OPS, ">=", "<=", "=", ">", "<"]),
    st.decimals(min_value=0, max_value=10**9, places=2).map(lambda d: f"{d.normalize():f}"),
    st.sampled_from(["%", "万元", "个", "元/人/次", "万册", "平方米", ""]),
    st.sampled_from(["", " ", "\u3000"]),
)


@given(targets)
def test_parser_round_trip(text: str) -> None:
    t = parse_target(text)
    assert t.op in OPS
    rebuilt = parse_target(f"{t.op}{t.number!r} {t.unit}".strip() if t.number is not None else "")
    assert (rebuilt.op, rebuilt.number, rebuilt.unit) == (t.op, t.number, t.unit)


@given(st.text(max_size=40))
def test_parser_never_raises(text: str) -> None:
    t = parse_target(text)
    assert t.raw == "" or t.raw == text
    parse_amount(text)
    assert normalise(normalise(text)) == normalise(text)


@given(st.text(max_size=40) | targets)
def test_a_parsed_target_comes_back_from_the_cache_as_it_went_in(text: str) -> None:
    """Targets and their problems pickle by value (the report cache): equal, same problems."""
    import pickle

    t = parse_target(text)
    back = pickle.loads(pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == t and back.problems == t.problems and type(back) is type(t)


def test_a_malformed_number_names_what_was_typed_and_gives_no_number() -> None:
    t = parse_target("≥95.5.0 %")
    (p,) = t.problems
    assert (t.number, t.unit, p.severity) == (None, "", "error")
    assert "95.5.0" in p.message and "“.0”" in p.message


@given(st.text(max_size=30))
def test_what_follows_a_number_is_a_unit_or_the_number_is_malformed(tail: str) -> None:
    """Whatever is typed after a number, the parser never reads a number with a unit that
    holds digits or stray punctuation: either a plausible unit, or no number at all."""
    t = parse_target(f"≥95{tail}")
    if t.number is not None:
        assert not re.search(r"\d", t.unit), (tail, t)
        assert re.fullmatch(r"[^.,，。:;!?+*=#&~<>\\|\[\]{}\"'`^$@-]*", t.unit), (tail, t)
    else:
        assert any(p.severity == "error" for p in t.problems) or t.qualitative, (tail, t)


stray = st.one_of(
    st.builds(lambda a, b: f".{a}.{b}", st.integers(0, 999), st.integers(0, 99)),  # 95.5.0
    st.integers(0, 99).map(lambda b: f",{b:02d}"),  # 2,40
    st.sampled_from(["O", "OO", "o", "oo", "O0"]),  # 1OO
)


@given(st.integers(1, 9999), stray, st.sampled_from(["", " ", "%", " %", " 人", "万元"]))
def test_stray_characters_after_a_number_are_malformed(n: int, junk: str, unit: str) -> None:
    typed = f"≥{n}{junk}{unit}"
    t = parse_target(typed)
    assert [p.code for p in t.problems] == ["malformed_number"], typed
    assert t.number is None
