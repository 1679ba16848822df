"""The 填报说明 sheet, generated from the spec so it can never drift from the form."""

from __future__ import annotations

from perfxl.forms.model import FormSpec, Input, Row, TableBlock, ValueType
from perfxl.rules import rules_for
from perfxl.vocab import OPERATORS, UNITS, Frame

TYPE_LABELS: dict[ValueType, str] = {
    ValueType.TEXT: "文字",
    ValueType.LONGTEXT: "文字（可多段）",
    ValueType.MONEY: "金额（万元）",
    ValueType.COUNT: "整数",
    ValueType.PHONE: "电话号码",
    ValueType.YESNO: "下拉：是/否",
    ValueType.CATEGORY: "下拉：项目类别",
    ValueType.LEVEL1: "下拉：一级指标",
    ValueType.LEVEL2: "下拉：二级指标",
    ValueType.OPERATOR: "下拉：符号",
    ValueType.TARGET: "数字或文字",
    ValueType.UNIT: "下拉或文字",
}

InstructionRow = tuple[str, list[str]]


def instruction_rows(spec: FormSpec, year: int, frame: Frame) -> list[InstructionRow]:
    rows: list[InstructionRow] = [("title", [f"填报说明：{spec.title}（{year} 年）"])]
    general = [
        "一、黄色底色的单元格为填报区，其余单元格（标题、栏目、公式）已锁定，不能修改。",
        "二、请勿增加、删除或重命名工作表，勿修改栏目文字；表格行数不够时请联系财政部门。",
        "三、带下拉箭头的单元格请从列表中选择；“二级指标”须先选本行“一级指标”。",
        "四、指标值分三格填写：符号（≥ ＞ ＝ ＜ ≤）、数值、单位；文字目标（如“健全”）"
        "请把符号选为“定性”，并在数值格填写文字。",
        "五、绿底“✓”表示自检通过；红底“✗”表示数据不一致，并显示差额，请在提交前修正。合计行和自检格自动计算。",
        *[f"{'六七八九十'[i]}、{n}" for i, n in enumerate(spec.notes)],
    ]
    rows += [("note", [g]) for g in general]
    rows.append(("section", ["各栏填写要求"]))
    rows.append(("header", ["工作表", "填报项", "类型", "必填", "填写要求", "示例"]))
    for sheet in spec.sheets:
        for block in sheet.blocks:
            if isinstance(block, Row):
                for item in block.items:
                    if isinstance(item, Input):
                        f = spec.field(item.field)
                        hint = f.hint
                        if f.prefill:
                            hint = (hint + "由财政部门预先填写并锁定。").strip()
                        if f.max_length and f.type in (ValueType.TEXT, ValueType.LONGTEXT):
                            hint = f"{hint}最多 {f.max_length} 字。".strip()
                        rows.append(
                            (
                                "cell",
                                [
                                    sheet.name,
                                    f.label,
                                    TYPE_LABELS[f.type],
                                    "是" if f.required else "否",
                                    hint,
                                    f.example,
                                ],
                            )
                        )
            elif isinstance(block, TableBlock):
                t = spec.table(block.table)
                for col in t.columns:
                    hint = col.hint
                    if col.max_length and col.type in (ValueType.TEXT, ValueType.LONGTEXT):
                        hint = f"{hint}最多 {col.max_length} 字。".strip()
                    rows.append(
                        (
                            "cell",
                            [
                                sheet.name,
                                f"{t.label}·{col.label}",
                                TYPE_LABELS[col.type],
                                "是" if col.required else "否",
                                f"{hint}（最多 {t.capacity} 行）",
                                col.example,
                            ],
                        )
                    )
    rules = rules_for(spec.kind)
    if rules:
        rows.append(("section", ["自动校验项目（提交后财政部门按同样规则复核）"]))
        rows.append(("header", ["序号", "校验内容", "严重程度", "", "容差", "规则编号"]))
        for k, rule in enumerate(rules, start=1):
            tol = rule.tolerance_note or (f"±{rule.tol:g} {rule.unit}" if rule.tol else "无（须严格成立）")
            where = "（逐行）" if rule.table else ""
            rows.append(("cell", [str(k), rule.title + where, rule.severity.label, "", tol, rule.id]))
    rows.append(("section", [f"指标框架：{frame.title}"]))
    rows.append(("header", ["一级指标", "二级指标", "", "", "", ""]))
    for level1, children in frame.levels:
        rows.append(("cell", [level1, "、".join(children), "", "", "", ""]))
    rows.append(("section", ["符号与单位"]))
    rows.append(("cell", ["符号", "  ".join(OPERATORS), "", "", "", ""]))
    rows.append(("cell", ["常用单位", "  ".join(UNITS), "", "", "", ""]))
    return rows
