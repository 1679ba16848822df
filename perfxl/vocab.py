"""Controlled vocabularies: indicator frames, operators, units, categories.

Data, not code: frames differ by province and year (reference/domain.md), so a
template picks a frame by id and the lists below can be swapped without
touching the writer or the reader.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Frame:
    """An indicator frame: ordered 一级 → ordered 二级, plus accepted aliases."""

    id: str
    title: str
    levels: tuple[tuple[str, tuple[str, ...]], ...]
    aliases: tuple[tuple[str, str], ...] = ()  # (alias 二级, canonical 二级)

    def level1(self) -> list[str]:
        return [name for name, _ in self.levels]

    def level2(self, level1: str) -> tuple[str, ...]:
        for name, children in self.levels:
            if name == level1:
                return children
        return ()

    def pairs(self) -> list[tuple[str, str]]:
        return [(l1, l2) for l1, children in self.levels for l2 in children]

    def canonical_level2(self, level2: str) -> str:
        return dict(self.aliases).get(level2, level2)


# The frames the 2024 历下区 seed uses (成本 is its own 一级 for projects).
PROJECT_FRAME_2024 = Frame(
    id="project-2024",
    title="项目支出绩效指标框架（成本、产出、效益、满意度）",
    levels=(
        ("成本指标", ("经济成本指标", "社会成本指标", "生态环境成本指标")),
        ("产出指标", ("数量指标", "质量指标", "时效指标")),
        (
            "效益指标",
            ("经济效益指标", "社会效益指标", "生态效益指标", "可持续发展影响指标"),
        ),
        ("满意度指标", ("服务对象满意度指标",)),
    ),
    aliases=(("可持续影响指标", "可持续发展影响指标"), ("环境效益指标", "生态效益指标")),
)

DEPT_FRAME_2024 = Frame(
    id="dept-2024",
    title="部门整体绩效指标框架（投入管理、产出、效果）",
    levels=(
        ("投入管理指标", ("预算配置", "预算编制", "预算执行", "财务管理", "资产管理")),
        ("产出指标", ("职责履行",)),
        ("效果指标", ("履职效益",)),
    ),
)

FRAMES: dict[str, Frame] = {f.id: f for f in (PROJECT_FRAME_2024, DEPT_FRAME_2024)}

# 计算符号 as deployed systems store them; QUALITATIVE marks a text target.
QUALITATIVE = "定性"
OPERATORS: tuple[str, ...] = ("≥", "＞", "＝", "＜", "≤", QUALITATIVE)

# Curated for the dropdown; the list is open (other text is accepted with a note).
UNITS: tuple[str, ...] = (
    "%", "万元", "元", "个", "次", "人", "人次", "户", "所", "场", "场次", "项", "件",
    "份", "天", "家", "栋", "处", "类", "名", "册", "万册", "起", "立方米", "千瓦时",
    "平方米", "平方公里", "个月", "年", "元/人", "元/人/次", "万元/年", "万元/次",
    "万元/场", "万元/场次", "万元/项", "万元/家", "万元/个", "万元/处", "万元/人",
    "元/本", "元/生/年",
)  # fmt: skip

# 项目类别: leaves of 人员类; 运转类 → 公用经费, 其他运转类; 特定目标类.
PROJECT_CATEGORIES: tuple[str, ...] = ("人员类", "公用经费", "其他运转类", "特定目标类")

YES_NO: tuple[str, ...] = ("是", "否")
