"""项目支出绩效目标表, as in the 2024 历下区 seed."""

from __future__ import annotations

from perfxl.forms.common import indicator_table
from perfxl.forms.model import (
    Blank,
    ChecksBlock,
    Field,
    FormSpec,
    Input,
    Row,
    Sheet,
    TableBlock,
    Text,
    Total,
)
from perfxl.forms.model import ValueType as V

_MONEY_HINT = "单位：万元，保留两位小数；无此项填 0。"

FIELDS: tuple[Field, ...] = (
    Field(id="project_name", label="项目名称", type=V.TEXT, max_length=100, prefill="entity",
          example="妇女儿童工作专项经费"),
    Field(id="category", label="项目类别", type=V.CATEGORY, hint="从下拉列表选择。",
          example="其他运转类"),
    Field(id="competent", label="主管部门", type=V.TEXT, max_length=100, prefill="competent",
          example="济南市历下区妇女联合会机关"),
    Field(id="implementer", label="实施单位", type=V.TEXT, max_length=100,
          example="济南市历下区妇女联合会机关"),
    Field(id="total", label="年度预算资金总额", type=V.MONEY, hint=_MONEY_HINT,
          example="80.00"),
    Field(id="fiscal", label="财政拨款", type=V.MONEY, hint=_MONEY_HINT, example="80.00"),
    Field(id="carryover", label="上年结转资金", type=V.MONEY, hint=_MONEY_HINT, example="0.00",
          required=False),
    Field(id="other", label="其他资金", type=V.MONEY, hint=_MONEY_HINT, example="0.00", required=False),
    Field(id="goal", label="年度总体绩效目标", type=V.LONGTEXT, max_length=8000,
          hint="概述年度产出、效益和满意度目标，应与下列绩效指标相对应。"),
)  # fmt: skip

TABLES = (
    indicator_table(label="绩效指标", capacity=120, level1_example="产出指标",
                    level2_example="数量指标"),
)  # fmt: skip

SHEETS = (
    Sheet(
        name="项目支出",
        widths=(16, 30, 16, 30, 18),
        blocks=(
            Row((Text("{title}", span=5, style="title"),), height=30),
            Row((Text("{year_caption}", span=5, style="subtitle"),)),
            Row((Text("项目名称"), Input("project_name"), Text("项目类别"),
                 Input("category", span=2))),
            Row((Text("主管部门"), Input("competent"), Text("实施单位"),
                 Input("implementer", span=2))),
            Row((Text("项目资金（万元）", style="section"), Text("年度预算资金总额"),
                 Input("total"), Blank(span=2))),
            Row((Blank(), Text("其中：财政拨款"), Input("fiscal"), Blank(span=2))),
            Row((Blank(), Text("上年结转资金"), Input("carryover"), Blank(span=2))),
            Row((Blank(), Text("其他资金"), Input("other"), Blank(span=2))),
            Row((Blank(), Text("资金来源合计（自动计算）"),
                 Total("by_source", ("fiscal", "carryover", "other")), Blank(span=2))),
            Row((Text("年度总体绩效目标", style="section"), Input("goal", span=4)), height=180),
            ChecksBlock(),
        ),
    ),
    Sheet(
        name="绩效指标",
        widths=(6, 14, 18, 40, 7, 12, 12),
        blocks=(
            Row((Text("绩效指标", span=7, style="title"),), height=30),
            Row((Text("{year_caption}", span=7, style="subtitle"),)),
            TableBlock("indicators"),
        ),
    ),
)  # fmt: skip

SPEC = FormSpec(
    kind="project",
    version="2024.1",
    title="项目支出绩效目标表",
    year_caption="（{year} 年度）",
    fields=FIELDS,
    tables=TABLES,
    sheets=SHEETS,
    frame="project-2024",
    entity_label="项目名称",
    notes=(
        "金额单位为万元，保留两位小数。",
        "年度预算资金总额应等于财政拨款、上年结转资金与其他资金之和。",
    ),
)
