"""Parse what people type: amounts and indicator targets, normalised.

Targets are an operator, a number and a unit (`≥90%`, `＝100%`, `= 100%`,
`≤80 万元`, `300 元/人/次`, `≥1 万册`) or a qualitative word (`健全`). Users
type full-width digits and symbols, stray spaces, thousands separators, and
leave the operator out. Each oddity becomes a `Problem` (code + Chinese text),
never an exception: the caller turns problems into located findings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from perfxl.vocab import QUALITATIVE, UNITS

ProblemCode = Literal[
    "empty", "placeholder", "no_operator", "malformed_number", "negative", "no_unit",
    "unit_incomplete", "percent_over_100", "not_a_number", "unit_in_amount", "op_conflict", "percent_fraction",
    "unit_read", "text_number", "too_precise", "unit_unlisted",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    message: str
    severity: Literal["error", "warning", "info"] = "warning"

    def __reduce__(self) -> tuple[type[Problem], tuple[Any, ...]]:
        return Problem, (self.code, self.message, self.severity)  # as Loc: 3× faster to unpickle


def _target(
    raw: str, op: str | None, number: float | None, unit: str, text: str, problems: tuple[Problem, ...]
) -> Target:
    return Target(raw=raw, op=op, number=number, unit=unit, text=text, problems=problems)


UNREADABLE_CODES = frozenset({"malformed_number", "not_a_number", "unit_in_amount"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """A parsed 目标值 / 指标值."""

    raw: str
    op: str | None = None  # one of ≥ ＞ ＝ ＜ ≤, or 定性
    number: float | None = None  # as written, before any 万 multiplier
    unit: str = ""
    text: str = ""  # the qualitative word(s)
    problems: tuple[Problem, ...] = field(default=())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a cached report holds one per indicator row; the dataclass default unpickles 3× slower
        return _target, (self.raw, self.op, self.number, self.unit, self.text, self.problems)

    @property
    def qualitative(self) -> bool:
        return self.op == QUALITATIVE

    @property
    def unreadable(self) -> bool:
        """Something was typed, but no number can be trusted from it (reported on its cell)."""
        return self.number is None and any(p.code in UNREADABLE_CODES for p in self.problems)

    @property
    def scaled(self) -> tuple[float | None, str]:
        """Number and base unit with `万` as a multiplier: 1 万册 → (10000, 册)."""
        return scale_unit(self.number, self.unit)


# ASCII and full-width spellings → the stored operator
_OPS: tuple[tuple[str, str], ...] = (
    (">=", "≥"), ("=>", "≥"), ("≧", "≥"), ("≥", "≥"), ("<=", "≤"), ("=<", "≤"), ("≦", "≤"),
    ("≤", "≤"), (">", "＞"), ("＞", "＞"), ("<", "＜"), ("＜", "＜"), ("==", "＝"), ("=", "＝"),
    ("＝", "＝"), ("不低于", "≥"), ("不少于", "≥"), ("不高于", "≤"), ("不超过", "≤"),
    ("大于等于", "≥"), ("小于等于", "≤"), ("大于", "＞"), ("小于", "＜"), ("等于", "＝"),
)  # fmt: skip
PLACEHOLDERS = frozenset({"*", "-", "_", "—", "/", "null", "none", "xx", "无", "暂无", "待定"})
_NUMBER = re.compile(r"^(?P<num>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+)\s*(?P<rest>.*)$")


# What may follow a number as its unit: letters and CJK (万元, 人次, km, m²), compounds with /
# (元/人/次), a middle dot, brackets, % ‰ ℃ °. A digit or other punctuation after the number
# means the number itself was mistyped (95.5.0, 2,40, 1OO): the parse would be wrong.
_UNIT_CHARS = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\u3380-\u33ff /·•()（）%‰℃°²³]*")
_LETTER_O = re.compile(r"[Oo]+(?![A-Za-z])")  # 1OO, 5O %: the letter O typed for a zero
_UNITS = frozenset(UNITS)


def unit_problem(num_text: str, unit: str) -> Problem | None:
    """Is `unit` (what followed `num_text`) a unit, or the rest of a mistyped number?"""
    if not unit:
        return None
    typed = f"{num_text}{unit}"
    if _LETTER_O.match(unit):
        why = "数字中疑似把数字 0 输成了字母 O"
    elif not _UNIT_CHARS.fullmatch(unit) or re.search(r"\d", unit):
        why = f"读出数字 {num_text} 后还多出“{unit.split(' ')[0]}”（多余的小数点、逗号或数字？）"
    else:
        return None
    return Problem("malformed_number", f"数值“{typed}”录入有误：{why}", "error")


_NEEDS_WORK = re.compile(r"[\uff01-\uff5e\u3000\t\n\r\f\v]|  |^\s|\s$")


def normalise(text: str) -> str:
    """Full-width ASCII to half-width (keeping ＞＝＜ apart), trimmed, inner spaces collapsed."""
    if not _NEEDS_WORK.search(text):
        return text  # the common case: nothing to change
    # names with full-width brackets (most entities) recur in every problem number: remembered
    return _normalised(text) if len(text) <= 200 else _normalise(text)


def _normalise(text: str) -> str:
    out = []
    for ch in text:
        if ch in "＞＝＜":
            out.append(ch)
        elif ch == "\u3000":
            out.append(" ")
        elif "\uff01" <= ch <= "\uff5e" and ch not in "％":
            out.append(unicodedata.normalize("NFKC", ch))
        elif ch == "％":
            out.append("%")
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


_normalised = lru_cache(maxsize=1 << 14)(_normalise)


def split_operator(text: str) -> tuple[str | None, str]:
    for spelled, op in _OPS:
        if text.startswith(spelled):
            return op, text[len(spelled) :].strip()
    return None, text


def parse_target(raw: object) -> Target:
    """One target string (or a number) → operator, number, unit or qualitative text."""
    if isinstance(raw, str):
        return _parse_text_target(raw)
    return _parse_target(raw)


@lru_cache(maxsize=65536)
def _parse_text_target(raw: str) -> Target:
    """Targets repeat across forms (=100%, ≥90%): parse each spelling once."""
    return _parse_target(raw)


def _parse_target(raw: object) -> Target:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Target(raw="", problems=(Problem("empty", "目标值为空", "error"),))
    if isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, (int, float)):
        return _numeric(str(raw), None, float(raw), "")
    text = normalise(str(raw))
    if text.lower() in PLACEHOLDERS or text.startswith("详见"):
        problem = Problem("placeholder", f"目标值“{text}”是占位符，请填写具体目标", "error")
        return Target(raw=str(raw), problems=(problem,))
    op, rest = split_operator(text)
    if op is None and rest.startswith(QUALITATIVE):
        return Target(raw=str(raw), op=QUALITATIVE, text=rest[len(QUALITATIVE) :].strip(" :："))
    m = _NUMBER.match(rest)
    if not m:
        if op is not None:
            problem = Problem("not_a_number", f"符号“{op}”后应为数字，实为“{rest}”", "error")
            return Target(raw=str(raw), op=op, text=rest, problems=(problem,))
        return Target(raw=str(raw), op=QUALITATIVE, text=rest)
    num_text = m.group("num")
    unit = m.group("rest").strip()
    problems: list[Problem] = []
    if bad := unit_problem(num_text, unit):  # a number we cannot trust is no number at all
        return Target(raw=str(raw), op=op, text=rest, problems=(bad,))
    if re.fullmatch(r"[+-]?0\d+(\.\d+)?", num_text.replace(",", "")):
        problems.append(Problem("malformed_number", f"数值“{num_text}”有多余的前导 0，疑似录入错误", "error"))
    return _numeric(str(raw), op, float(num_text.replace(",", "")), unit, problems)


def _numeric(raw: str, op: str | None, number: float, unit: str, problems: list[Problem] | None = None) -> Target:
    problems = list(problems or [])
    if op is None:
        problems.append(Problem("no_operator", "目标值缺少符号（≥ ＞ ＝ ＜ ≤）", "warning"))
    if number < 0:
        problems.append(Problem("negative", "目标值不应为负数", "error"))
    if not unit:
        problems.append(Problem("no_unit", "目标值缺少计量单位", "warning"))
    elif unit.startswith("/"):
        problems.append(Problem("unit_incomplete", f"计量单位“{unit}”不完整（缺少如“元”的分子）", "warning"))
    if unit == "%" and number > 100:
        problems.append(Problem("percent_over_100", f"百分比 {number:g}% 超过 100%", "error"))
    if unit and not unit.startswith("/") and unit not in _UNITS:
        problems.append(Problem("unit_unlisted", f"计量单位“{unit}”不在推荐列表中，请确认", "info"))
    return Target(raw=raw, op=op, number=number, unit=unit, problems=tuple(problems))


def scale_unit(number: float | None, unit: str) -> tuple[float | None, str]:
    """`万` before a base unit multiplies: 万册 → ×10,000 册; 万元 stays money in 万元."""
    if number is None or not unit.startswith("万") or unit.startswith("万元") or len(unit) < 2:
        return number, unit
    return number * 10_000, unit[1:]


MONEY_UNITS: dict[str, float] = {"万元": 1.0, "元": 0.0001}


def to_wan(number: float | None, unit: str) -> float | None:
    """Money in 万元 (the forms' unit); None when the unit is not money."""
    if number is None or unit not in MONEY_UNITS:
        return None
    return number * MONEY_UNITS[unit]


@dataclass(frozen=True)
class Amount:
    value: float | None
    problems: tuple[Problem, ...] = ()


def parse_amount(raw: object, *, unit: str = "万元", decimals: int | None = 2) -> Amount:
    """A number cell as typed: 1,616.61 / ' 80 ' / ８０ / '80万元' / '' → value + problems."""
    if raw is None or isinstance(raw, bool):
        return Amount(None)
    if isinstance(raw, (int, float)):
        return _checked_amount(float(raw), decimals, ())
    text = normalise(str(raw))
    if not text:
        return Amount(None)
    problems: list[Problem] = []
    for suffix in (unit, "元") if unit == "万元" else (unit,):
        if suffix and text.endswith(suffix):
            number = text[: -len(suffix)].strip()
            if suffix == "元" and unit == "万元":
                return Amount(None, (Problem("unit_in_amount", f"“{raw}”以元为单位，本表金额单位为万元", "error"),))
            problems.append(Problem("unit_read", f"“{raw}”中带了单位，已按 {unit} 读取", "info"))
            text = number
            break
    m = _NUMBER.match(text)
    if not m or m.group("rest"):
        return Amount(None, (Problem("not_a_number", f"“{raw}”不是数字", "error"),))
    if text != str(raw).strip() and not problems:
        problems.append(Problem("text_number", f"数字“{raw}”以文字形式录入，已按 {m.group('num')} 读取", "info"))
    return _checked_amount(float(m.group("num").replace(",", "")), decimals, tuple(problems))


def _checked_amount(value: float, decimals: int | None, problems: tuple[Problem, ...]) -> Amount:
    extra: list[Problem] = []
    if value < 0:
        extra.append(Problem("negative", "金额或人数不应为负数", "error"))
    if decimals is not None and round(value, decimals) != round(value, 9):
        what = "整数" if decimals == 0 else f"{decimals} 位小数"
        extra.append(Problem("too_precise", f"{value:g} 超出精度：应为{what}", "warning"))
    return Amount(value, problems + tuple(extra))
