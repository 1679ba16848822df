"""What people type into the template, and what perfxl must read or report.

One entry per typed input, typed at the keyboard through LibreOffice (tests/test_typed.py)
into a clean project form (妇女儿童工作专项经费). The README table "填报时的常见输入" is
rendered from this list, and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    typed: str  # exactly what is typed, keystroke for keystroke
    where: str  # what the cell is, in users' words
    sheet: str
    cell: str
    row: int | None  # indicator row (0-based) whose target is asserted, if any
    target: tuple[str, float, str] | None  # (符号, 数值, 单位) read
    finding: str | None  # the rule reported at this cell, if any
    reads: str  # README: what perfxl reads, in users' words


ENTRIES = [
    Entry("95%", "单位为 % 的数值", "绩效指标", "F14", 10, ("＝", 95, "%"), None, "95（程序存为 0.95 并设百分比格式，按显示的 95% 读取）"),
    Entry("95 %", "单位为 % 的数值", "绩效指标", "F15", 11, ("＝", 95, "%"), None, "95"),
    Entry("９５", "单位为 % 的数值", "绩效指标", "F16", 12, ("≥", 95, "%"), None, "95（全角数字按半角读取）"),
    Entry("1,000", "单位为“次”的数值", "绩效指标", "F11", 7, ("≥", 1000, "次"), None, "1000"),
    Entry("0.95", "单位为 % 的数值", "绩效指标", "F17", 13, ("＞", 0.95, "%"), "value.percent_fraction",
          "0.95，并提示“如果指的是 95%，请填写 95”"),
    Entry("≥95%", "数值格（符号格已选 ≥）", "绩效指标", "F20", 16, ("≥", 95, "%"), None, "≥ 95 %（整条目标写在一格也能识别）"),
    Entry("'65", "数值（前面加撇号）", "绩效指标", "F13", 9, ("≥", 65, "户"), None, "65"),
    Entry("80 ", "数值（末尾多一个空格）", "绩效指标", "F4", 0, ("≤", 80, "万元"), None, "80"),
    Entry("3/1/2024", "数值", "绩效指标", "F9", None, None, "value.date", "错误：被识别为日期（2024-03-01），应填写数字"),
    Entry("八十万", "金额（万元）", "项目支出", "C8", None, None, "value.not_a_number", "错误：不是数字"),
    Entry("=走访慰问", "三级指标（文字）", "绩效指标", "D5", None, None, None, "文字“=走访慰问”，汇总表中仍是文字，不会变成公式"),
]  # fmt: skip

# what the cells above do to the rest of the form: the 20 万元 cost indicator in F9 is blank
# once the date is refused, so the cost components no longer add up to the total
CONSEQUENCES = {("project.cost.components_vs_total", "绩效指标", "F5")}


def readme_table() -> str:
    lines = ["| 在单元格中输入 | 单元格 | perfxl 读到的 |", "|---|---|---|"]
    for e in ENTRIES:
        typed = e.typed.replace(" ", "␣").replace("|", "\\|")
        lines.append(f"| `{typed}` | {e.where} | {e.reads} |")
    return "\n".join(lines) + "\n"
