"""Every kind of finding the tool can emit: id, severity, Chinese title, what to do about it.

One list, as data. Emitters take their severity from here (`severity_of`), docs/findings.md
is generated from it (`perfxl finding-types`), and a test fails when any id the tool emits is
missing. Rule ids come from the rule registry (rules.py), which holds their titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from perfxl.findings import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: 提示 (a note)


@dataclass(frozen=True)
class FindingType:
    """One kind of finding, as users see it in docs/findings.md."""

    id: str
    severity: Severity
    title: str  # Chinese, short
    advice: str  # Chinese: what the person who filled the form (or the bureau) should do
    group: str  # file / template / value / schema / rule / cross / submission / catalog


_TYPES: tuple[tuple[str, Severity, str, str], ...] = (
    # ----- the file as a whole
    ("file.unreadable", E, "文件无法读取", "按说明重新保存为 .xlsx（取消打开密码），或重新下载模板填报后再提交"),
    ("file.not_template", E, "不是下发的模板", "使用财政部门下发的模板填报，不要新建工作簿或复制到别的文件"),
    ("file.internal_error", E, "处理文件时程序出错", "把文件反馈给财政部门，由维护人员排查"),
    ("file.crashed", E, "读取时程序异常终止", "用 Excel 或 WPS 打开后另存为新的 .xlsx 再提交；仍不行时反馈给财政部门"),
    ("file.macros", W, "文件含有宏", "宏不会被执行；请用下发的 .xlsx 模板填报"),
    ("file.limit", W, "超出读取上限（被截断）", "精简内容：单元格不超过 32,767 个字符，表格之外不要填写内容"),
    ("file.outside_area", W, "模板范围之外有内容", "删除模板范围之外的内容后重新提交"),
    ("file.suspicious_part", W, "文件中有路径异常的部件", "用下发的模板重新填报；正常保存的工作簿不会出现"),
    ("file.embedded_object", W, "含有嵌入的对象或控件", "删除嵌入的对象、ActiveX 控件后重新提交；它们不会被打开"),
    ("file.external_link", W, "含有指向其他工作簿的链接", "删除外部链接（数据→编辑链接→断开链接）后重新提交"),
    ("file.untrusted_time", N, "文件记录的修改时间不可信", "无需处理；汇总时按文件时间判断先后"),
    ("file.format", N, "另存为的 .xls / .ods 格式", "可以接收；为核对公式和保护，建议另存为 .xlsx 提交"),
    # ----- is this our template, unchanged
    ("template.version", E, "模板版本不一致", "使用最新下发的模板重新填报"),
    ("template.year", E, "模板年度不一致", "使用本次收集年度的模板重新填报"),
    ("template.kind_mismatch", E, "模板类型与内容不符", "使用下发的模板重新填报，不要拼接或改动工作表"),
    ("template.sheet_missing", E, "工作表被删除或改名", "使用下发的模板重新填报，不要删除或改名工作表"),
    ("template.sheet_added", W, "多了工作表", "删除自行添加的工作表（其内容不会被读取）"),
    ("template.label_changed", E, "锁定内容被修改", "使用下发的模板重新填报，不要取消保护改动栏目"),
    ("template.fingerprint", W, "模板锁定内容的指纹不符", "使用下发的模板重新填报"),
    ("template.unprotected", W, "工作表保护被取消", "使用下发的模板重新填报；栏目和公式不要改动"),
    ("template.formula_removed", W, "自动计算的公式被删除", "无需处理数据（按填报数据重新计算）；今后不要覆盖合计格"),
    ("template.structure_unprotected", N, "工作簿结构保护被取消", "无需处理；LibreOffice 保存时也会出现"),
    ("template.names_missing", N, "定义名称缺失", "无需处理；已按模板坐标读取"),
    ("template.merged_inputs", W, "填报格被合并", "取消合并，每格填写一项"),
    ("template.rows_beyond_capacity", E, "超出模板表格的行", "精简到模板表格的行数之内，或联系财政部门"),
    # ----- one cell's value
    ("value.empty", E, "没有填写目标值", "填写目标值"),
    ("value.placeholder", E, "目标值是占位文字", "填写实际的目标值"),
    ("value.no_operator", W, "目标值缺少符号", "在“符号”栏选择 ≥ ＞ ＝ ＜ ≤ 或“定性”"),
    ("value.malformed_number", E, "数字录入有误", "按提示改正数字（如多余的 0、多个小数点、字母 O）"),
    ("value.negative", E, "数值为负", "填写非负数"),
    ("value.no_unit", W, "缺少计量单位", "在“单位”栏填写计量单位"),
    ("value.unit_incomplete", W, "计量单位不完整", "补全单位（如“元/人”而不是“/人”）"),
    ("value.unit_unlisted", N, "计量单位不在推荐列表中", "确认单位无误；常用单位可在“单位”栏的下拉列表中选择"),
    ("value.percent_over_100", E, "百分比超过 100%", "核对目标值"),
    ("value.not_a_number", E, "不是数字", "填写阿拉伯数字（金额以万元为单位），文字说明写在说明栏"),
    ("value.unit_in_amount", E, "金额按元填写", "金额以万元为单位：把元换算成万元后只填写数字"),
    ("value.unit_read", N, "金额格中写了单位（已按万元读取）", "只填写数字，金额以万元为单位"),
    ("value.text_number", N, "数字以文字形式录入（已读取）", "无需处理；今后直接输入数字"),
    ("value.too_precise", W, "小数位数超出要求", "金额保留两位小数，人数填写整数"),
    ("value.op_conflict", W, "符号栏与数值栏的符号不一致", "统一为一个符号"),
    ("value.percent_fraction", N, "百分比小于 1%", "如指 95%，数值栏填写 95"),
    ("value.invalid_number", E, "数值无效（NaN、无穷大）", "重新填写该单元格"),
    ("value.percent_format", E, "金额或人数格设成了百分比格式", "把单元格格式改回“常规”，填写数字本身"),
    ("value.date", E, "数值被识别为日期", "把单元格格式改回“常规”，重新填写数字"),
    ("value.formula_in_input", W, "填报格中是公式", "直接填写数值或文字"),
    # ----- required, lengths, lists (pandera schemas)
    ("schema.required", E, "必填项未填写", "填写该项"),
    ("schema.too_long", E, "内容超过长度上限", "精简文字"),
    ("schema.choice", E, "不是下拉列表中的选项", "从下拉列表中选择"),
    ("schema.negative", E, "不应为负数", "填写非负数"),
    ("schema.integer", E, "应为整数", "填写整数"),
    ("schema.phone", W, "电话号码格式不正确", "填写座机或手机号码"),
    ("schema.level_pair", E, "二级指标不属于一级指标", "按指标框架重新选择一级、二级指标"),
    ("dept.indicators.level1_missing", E, "缺少某一类一级指标", "每个一级指标至少填写一条三级指标及目标值"),
    ("project.indicators.level1_missing", E, "缺少某一类一级指标", "每个一级指标至少填写一条三级指标及目标值"),
    # ----- the district's common indicators (perfxl/library.py)
    ("library.missing", E, "缺少共性指标", "按共性指标库补上该指标（名称、符号、目标值、单位）"),
    ("library.deviation", W, "共性指标的目标与标准不一致", "按标准填写；确需不同的，在说明中写明理由"),
    # ----- the intake web page
    ("intake.wrong_entity", E, "上传的不是本单位的表", "下载本单位的模板填写后上传（链接只用于本单位）"),
    # ----- several submissions, the catalog
    ("submission.superseded", N, "已被较新的提交替代", "无需处理；以较新的文件为准"),
    ("submission.duplicate", N, "重复提交（内容相同）", "无需处理"),
    ("catalog.missing", E, "目录中的对象未提交", "催报"),
    ("catalog.unexpected", W, "提交的对象不在目录中", "核实是否应当提交，或补入目录"),
    ("catalog.submitted", E, "目录中的每一项都已提交", "催报未提交的对象"),
)  # fmt: skip

_RULE_ADVICE = {
    "==": "核对两边的金额或人数，改正填错的一边",
    "<=": "核对左边是否多填或右边是否少填",
    ">=": "核对左边是否少填或右边是否多填",
}


@cache
def finding_types() -> dict[str, FindingType]:
    """Every finding type by id: the fixed list above, then every registered rule."""
    from perfxl.rules import RULES

    out = {
        i: FindingType(i, s, t, a, i.split(".")[0] if not i.endswith("level1_missing") else "schema")
        for i, s, t, a in _TYPES
    }
    for rule in RULES:
        group = "cross" if rule.kind == "cross" else "rule"
        advice = rule.advice or _RULE_ADVICE.get(rule.op.value, "核对相关数据")
        out[rule.id] = FindingType(rule.id, rule.severity, rule.title, advice, group)
    return out


def severity_of(finding_id: str) -> Severity:
    """The catalog's severity of a finding id (ERROR for an id the catalog lacks: a test
    keeps that from happening, and an unknown problem is better loud than quiet)."""
    t = finding_types().get(finding_id)
    return t.severity if t else Severity.ERROR


GROUP_TITLES = {
    "file": "文件",
    "template": "模板",
    "value": "单元格的值",
    "schema": "必填、长度与下拉选项",
    "rule": "勾稽关系（单张表）",
    "cross": "跨表勾稽关系（汇总时）",
    "submission": "多次提交",
    "catalog": "目录",
}


def findings_markdown() -> str:
    """docs/findings.md: the list users see."""
    lines = [
        "# 问题类型一览",
        "",
        "perfxl 可能报告的全部问题类型（由 `perfxl/codes.py` 与 `perfxl/rules.py` 生成，",
        "`perfxl finding-types` 重新生成）。严重程度：错误必须修改；警告请核实；提示供参考。",
        "",
    ]
    types = finding_types()
    for group, title in GROUP_TITLES.items():
        rows = [t for t in types.values() if t.group == group]
        if not rows:
            continue
        lines += [f"## {title}", "", "| 编号 | 严重程度 | 问题 | 怎么办 |", "|---|---|---|---|"]
        lines += [f"| `{t.id}` | {t.severity.label} | {t.title} | {t.advice} |" for t in rows]
        lines.append("")
    return "\n".join(lines)


def report_json_schema() -> dict[str, object]:
    """docs/findings.schema.json: the JSON that `perfxl check --json` writes."""
    finding = {
        "type": "object",
        "required": ["rule", "severity", "message", "form", "entity", "file", "sheet", "cell"],
        "properties": {
            "rule": {"enum": sorted(finding_types()), "description": "问题类型编号，见 docs/findings.md"},
            "severity": {"enum": [s.value for s in Severity], "description": "error 错误 / warning 警告 / info 提示"},
            "message": {"type": "string", "description": "中文说明"},
            "form": {"enum": ["", "dept", "project"], "description": "表单类型"},
            "entity": {"type": "string", "description": "部门或项目名称"},
            "file": {"type": "string"},
            "sheet": {"type": "string", "description": "工作表；空表示整个文件"},
            "cell": {"type": "string", "description": "单元格（A1 形式）；空表示整张表或整个文件"},
            "expected": {"description": "应为的值（规则的右值等），可能为空"},
            "actual": {"description": "实际的值，可能为空"},
            "key": {"type": "string", "description": "问题编号：不随单元格位置、说明文字和数值变化，多轮审核据此对应"},
        },
        "additionalProperties": False,
    }
    status = {"enum": ["ok", "findings", "rejected"], "description": "通过 / 有问题 / 无法读取"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "perfxl check --json",
        "type": "object",
        "required": ["summary", "files", "findings"],
        "properties": {
            "summary": {
                "type": "object",
                "properties": {
                    k: {"type": "integer", "minimum": 0}
                    for k in ("files", "ok", "with_findings", "rejected", "errors", "warnings", "infos")
                },
                "required": ["files", "ok", "with_findings", "rejected", "errors", "warnings", "infos"],
            },
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["file", "status", "status_label", "form", "entity", "sha256", "findings"],
                    "properties": {
                        "file": {"type": "string"},
                        "status": status,
                        "status_label": {"type": "string"},
                        "form": {"type": "string"},
                        "entity": {"type": "string"},
                        "sha256": {"type": "string"},
                        "findings": {"type": "array", "items": {"$ref": "#/$defs/finding"}},
                    },
                },
            },
            "findings": {"type": "array", "items": {"$ref": "#/$defs/finding"}},
        },
        "$defs": {"finding": finding},
    }
