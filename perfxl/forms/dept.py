"""部门（单位）整体支出绩效目标申报表, as in the 2024 历下区 seed."""

from __future__ import annotations

from perfxl.forms.common import indicator_table
from perfxl.forms.model import (
    Blank,
    ChecksBlock,
    Column,
    Field,
    FormSpec,
    Input,
    Row,
    Sheet,
    Table,
    TableBlock,
    Text,
    Total,
)
from perfxl.forms.model import ValueType as V

_MONEY_HINT = "单位：万元，保留两位小数；无此项填 0。"

FIELDS: tuple[Field, ...] = (
    Field(id="dept_name", label="部门名称", type=V.TEXT, max_length=100, prefill="entity",
          hint="填写部门（单位）全称。", example="济南市历下区民政局"),
    Field(id="contact", label="联系人", type=V.TEXT, max_length=20, example="西希"),
    Field(id="phone", label="联系电话", type=V.PHONE,
          hint="固定电话或手机号，可带区号和“-”。", example="0531-86568760"),
    Field(id="units_count", label="直属单位数（个）", type=V.COUNT, example="2"),
    Field(id="units_list", label="直属单位名单", type=V.LONGTEXT, max_length=8000,
          required=False, hint="逐个列出直属单位名称，用顿号或编号分隔。",
          example="济南市历下区未成年人保护中心、济南市历下区民政局婚姻登记处"),
    Field(id="units_in_scope", label="直属单位一并纳入本表填报的预算绩效管理范围",
          type=V.YESNO, hint="从下拉列表选择“是”或“否”。", example="是"),
    Field(id="depts_count", label="内设职能部门数（个）", type=V.COUNT, example="3"),
    Field(id="depts_list", label="内设职能部门名单", type=V.LONGTEXT, max_length=2000,
          required=False, example="办公室、基层政权与社区治理科、社会事务与社会救助科"),
    Field(id="staff_quota_prev", label="人员编制数（人）·上年", type=V.COUNT, example="36"),
    Field(id="staff_quota_curr", label="人员编制数（人）·当年", type=V.COUNT, example="36"),
    Field(id="staff_actual_prev", label="在职人员总数（人）·上年", type=V.COUNT, example="36"),
    Field(id="staff_actual_curr", label="在职人员总数（人）·当年", type=V.COUNT, example="36"),
    Field(id="exp_basic", label="基本支出", type=V.MONEY, hint=_MONEY_HINT, example="1263.27"),
    Field(id="exp_project", label="项目支出", type=V.MONEY, hint=_MONEY_HINT, example="20670.00"),
    Field(id="src_fiscal", label="财政拨款", type=V.MONEY, hint=_MONEY_HINT, example="21933.27"),
    Field(id="src_other", label="其他资金", type=V.MONEY, hint=_MONEY_HINT, example="0.00",
          required=False),
    Field(id="nat_operating", label="运转类支出", type=V.MONEY, hint=_MONEY_HINT,
          example="0.00"),
    Field(id="nat_specific", label="特定目标类支出", type=V.MONEY, hint=_MONEY_HINT,
          example="20670.00"),
    Field(id="sp_local", label="区（县）本级安排", type=V.MONEY, hint=_MONEY_HINT,
          example="20670.00"),
    Field(id="sp_transfer", label="上级转移支付", type=V.MONEY, hint=_MONEY_HINT,
          example="0.00", required=False),
    Field(id="legal_basis", label="职能依据", type=V.LONGTEXT, max_length=2000,
          hint="列出确定部门职能的文件名称及文号。",
          example="《济南市历下区民政局职能配置、内设机构和人员编制规定》（历下办发〔2019〕25 号）"),
    Field(id="core_functions", label="核心职能", type=V.LONGTEXT, max_length=1000,
          hint="概括本部门的核心职能。", example="基本民生保障、基层政权和社区治理、养老服务"),
    Field(id="strategy", label="部门战略目标", type=V.LONGTEXT, max_length=8000,
          hint="中长期战略目标，一段或数段文字。"),
)  # fmt: skip

TABLES: tuple[Table, ...] = (
    Table(
        id="functions",
        label="部门职能",
        capacity=20,
        columns=(
            Column(id="name", label="职能名称", type=V.TEXT, width=24, max_length=100,
                   example="基本民生保障"),
            Column(id="description", label="职能说明", type=V.LONGTEXT, width=80,
                   max_length=2000, example="拟订有关社会救助政策、标准……"),
        ),
    ),
    Table(
        id="annual_goals",
        label="年度绩效目标",
        capacity=20,
        columns=(
            Column(id="function", label="职能", type=V.TEXT, width=24, max_length=100,
                   example="养老服务"),
            Column(id="goal", label="年度绩效目标", type=V.LONGTEXT, width=80,
                   max_length=2000, example="按计划为 500 余人提供居家服务……"),
        ),
    ),
    Table(
        id="tasks",
        label="年度主要任务",
        capacity=30,
        totals=("budget", "fiscal", "other"),
        columns=(
            Column(id="function", label="职能", type=V.TEXT, width=16, max_length=100,
                   example="基本民生保障"),
            Column(id="task", label="政策或重点任务", type=V.TEXT, width=22, max_length=200,
                   example="社会救助、福利体系建设"),
            Column(id="projects", label="对应的拟安排项目", type=V.TEXT, width=30,
                   max_length=500, example="社会福利和社会救助资金",
                   hint="填写与项目支出绩效目标表一致的项目名称，多个用顿号分隔。"),
            Column(id="budget", label="预算资金（万元）", type=V.MONEY, width=14,
                   example="2613.00", hint=_MONEY_HINT),
            Column(id="fiscal", label="其中：财政拨款（万元）", type=V.MONEY, width=14,
                   example="2613.00", hint=_MONEY_HINT),
            Column(id="other", label="其中：其他资金（万元）", type=V.MONEY, width=14,
                   example="0.00", hint=_MONEY_HINT, required=False),
        ),
    ),
    indicator_table(label="年度绩效指标", capacity=120, level1_example="产出指标",
                    level2_example="职责履行"),
)  # fmt: skip

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        name="部门整体",
        widths=(16, 30, 18, 30, 18),
        blocks=(
            Row((Text("{title}", span=5, style="title"),), height=30),
            Row((Text("{year_caption}", span=5, style="subtitle"),)),
            Row((Text("部门名称"), Input("dept_name", span=4))),
            Row((Text("联系人"), Input("contact"), Text("联系电话"), Input("phone", span=2))),
            Row(
                (
                    Text("部门基本信息", style="section"),
                    Text("直属单位数（个）"),
                    Input("units_count"),
                    Text("内设职能部门数（个）"),
                    Input("depts_count"),
                )
            ),
            Row((Blank(), Text("直属单位名单"), Input("units_list", span=3)), height=75),
            Row(
                (Blank(), Text("直属单位一并纳入本表填报的预算绩效管理范围", span=3), Input("units_in_scope")),
                height=30,
            ),
            Row((Blank(), Text("内设职能部门名单"), Input("depts_list", span=3)), height=45),
            Row(
                (
                    Text("人员情况", style="section"),
                    Text("内容", style="header"),
                    Text("上年", style="header"),
                    Text("当年", style="header"),
                    Blank(),
                )
            ),
            Row((Blank(), Text("人员编制数（人）"), Input("staff_quota_prev"), Input("staff_quota_curr"), Blank())),
            Row((Blank(), Text("在职人员总数（人）"), Input("staff_actual_prev"), Input("staff_actual_curr"), Blank())),
            Row(
                (
                    Text("预算情况（万元）", style="section"),
                    Text("按支出类型分", style="header"),
                    Text("预算金额（万元）", style="header"),
                    Text("按来源类型分", style="header"),
                    Text("预算金额（万元）", style="header"),
                )
            ),
            Row((Blank(), Text("其中：基本支出"), Input("exp_basic"), Text("其中：财政拨款"), Input("src_fiscal"))),
            Row((Blank(), Text("项目支出"), Input("exp_project"), Text("其他资金"), Input("src_other"))),
            Row(
                (
                    Blank(),
                    Text("合计（自动计算）"),
                    Total("by_use", ("exp_basic", "exp_project")),
                    Text("合计（自动计算）"),
                    Total("by_source", ("src_fiscal", "src_other")),
                )
            ),
            Row(
                (
                    Blank(),
                    Text("按支出性质分", style="header"),
                    Text("预算金额（万元）", style="header"),
                    Text("区（县）级财政专项资金", style="header"),
                    Text("预算金额（万元）", style="header"),
                )
            ),
            Row(
                (
                    Blank(),
                    Text("其中：运转类支出"),
                    Input("nat_operating"),
                    Text("其中：区（县）本级安排"),
                    Input("sp_local"),
                )
            ),
            Row((Blank(), Text("特定目标类支出"), Input("nat_specific"), Text("上级转移支付"), Input("sp_transfer"))),
            Row(
                (
                    Blank(),
                    Text("合计（自动计算）"),
                    Total("by_nature", ("nat_operating", "nat_specific")),
                    Text("合计（自动计算）"),
                    Total("by_special", ("sp_local", "sp_transfer")),
                )
            ),
            ChecksBlock(),
        ),
    ),
    Sheet(
        name="部门职能与目标",
        widths=(12, 24, 80),
        blocks=(
            Row((Text("部门职能与年度绩效目标", span=3, style="title"),), height=30),
            Row((Text("{year_caption}", span=3, style="subtitle"),)),
            Row((Text("部门职能", span=3, style="section"),)),
            Row((Text("职能依据"), Input("legal_basis", span=2)), height=60),
            TableBlock("functions"),
            Row((Text("核心职能"), Input("core_functions", span=2)), height=45),
            Row((Text("部门战略目标", style="section"), Input("strategy", span=2)), height=180),
            Row((Text("年度绩效目标", span=3, style="section"),)),
            TableBlock("annual_goals"),
        ),
    ),
    Sheet(
        name="年度主要任务",
        widths=(6, 16, 22, 30, 14, 14, 14, 16),
        blocks=(
            Row((Text("年度主要任务", span=8, style="title"),), height=30),
            Row((Text("{year_caption}", span=8, style="subtitle"),)),
            TableBlock("tasks"),
        ),
    ),
    Sheet(
        name="年度绩效指标",
        widths=(6, 14, 16, 40, 7, 12, 12),
        blocks=(
            Row((Text("年度绩效指标", span=7, style="title"),), height=30),
            Row((Text("{year_caption}", span=7, style="subtitle"),)),
            TableBlock("indicators"),
        ),
    ),
)

SPEC = FormSpec(
    kind="dept",
    version="2024.1",
    title="部门（单位）整体支出绩效目标申报表",
    year_caption="（{year} 年）",
    fields=FIELDS,
    tables=TABLES,
    sheets=SHEETS,
    frame="dept-2024",
    entity_label="部门名称",
    notes=(
        "金额单位为万元，保留两位小数；人数、个数填整数。",
        "“年度主要任务”的合计行自动计算，并与“部门整体”中的项目支出对比。",
    ),
)
