"""Declarative cross-checks: one registry for Python checks and in-sheet formulas.

A rule is data (id, left, operator, right, tolerance, severity, missing-value
strategy). `evaluate` applies it to values already read; `compile_check` turns
the same rule into the Excel formula a template shows as ✓/✗. Rules never do
I/O and never know where a value sits: a resolver supplies cell references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from perfxl.findings import Severity

# Float noise guard added to every tolerance, in Python and in formulas alike.
EPSILON = 1e-9
DIFF_PLACES = 6


class Op(StrEnum):
    EQ = "=="
    LE = "<="
    GE = ">="


class Missing(StrEnum):
    """What to do when some terms are blank."""

    ZERO = "zero"  # blanks count as 0; skip only when every term is blank
    SKIP = "skip"  # skip unless every term is present
    SKIP_ZERO = "skip_zero"  # skip unless every term is present and not 0 (ratios of amounts)
    FLAG = "flag"  # a partly filled identity is itself a failure


@dataclass(frozen=True)
class Term:
    """One operand: a field, a table column in the current row, or a column total."""

    ref: str  # "field_id" or "table.column"
    agg: Literal["value", "row", "sum"] = "value"
    sign: int = 1
    scale: float = 1.0  # a multiple of the value: plausibility of magnitudes (1,000 × …)

    @property
    def table(self) -> str | None:
        return self.ref.split(".", 1)[0] if self.agg != "value" else None

    @property
    def column(self) -> str:
        return self.ref.split(".", 1)[1]


def fld(ref: str, sign: int = 1, scale: float = 1.0) -> Term:
    return Term(ref, "value", sign, scale)


def cell(ref: str, sign: int = 1, scale: float = 1.0) -> Term:
    """The column's value in the row being checked (row-scope rules)."""
    return Term(ref, "row", sign, scale)


def colsum(ref: str, sign: int = 1, scale: float = 1.0) -> Term:
    return Term(ref, "sum", sign, scale)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A declarative cross-check: left, operator, right, tolerance, severity, message."""

    id: str
    kind: Literal["dept", "project", "cross"]  # cross: evaluated by merge on joined forms
    title: str  # Chinese, shown in sheets, reports and 交叉校验
    left_label: str
    left: tuple[Term, ...]
    op: Op
    right_label: str
    right: tuple[Term, ...]
    severity: Severity
    unit: str = "万元"
    decimals: int = 2
    tolerance: float | None = None  # None: derived from the stated precision
    # row rules whose sides multiply rounded numbers: a column of the checked table holding each
    # row's own tolerance (added to `tolerance`), and how the instruction sheet describes it
    tolerance_column: str | None = None
    tolerance_note: str = ""
    missing: Missing = Missing.ZERO
    table: str | None = None  # set for rules checked on every row of a table
    sheet: bool = True  # also a live ✓/✗ cell in the template (when every term is a cell there)
    advice: str = ""  # 怎么办, when the operator's generic advice does not fit
    show_passes: bool = True  # False: 交叉校验 lists it only when it fails or cannot be checked

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.left + self.right

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Registered rules pickle by id: worker processes send back thousands of outcomes, and
        each should point at the one registry object, not carry a copy of its rule."""
        if RULES_BY_ID.get(self.id) is self:
            return (_registered, (self.id,))
        return super().__reduce_ex__(protocol)

    @property
    def tol(self) -> float:
        """Each stated amount is rounded to `decimals`: ± half a unit per term."""
        if self.tolerance is not None:
            return self.tolerance
        if self.decimals == 0:
            return 0.0
        return 0.5 * 10.0**-self.decimals * len(self.terms)

    @property
    def number_format(self) -> str:
        return "#,##0" if self.decimals == 0 else "#,##0." + "0" * self.decimals


# ----- the registry ---------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        id="project.funds.total",
        kind="project",
        title="年度预算资金总额＝财政拨款＋上年结转资金＋其他资金",
        left_label="年度预算资金总额",
        left=(fld("total"),),
        op=Op.EQ,
        right_label="资金来源合计",
        right=(fld("fiscal"), fld("carryover"), fld("other")),
        severity=Severity.ERROR,
    ),
    Rule(
        id="dept.budget.use_vs_source",
        kind="dept",
        title="按支出类型合计＝按来源类型合计",
        left_label="基本支出＋项目支出",
        left=(fld("exp_basic"), fld("exp_project")),
        op=Op.EQ,
        right_label="财政拨款＋其他资金",
        right=(fld("src_fiscal"), fld("src_other")),
        severity=Severity.ERROR,
    ),
    Rule(
        id="dept.budget.nature_vs_project",
        kind="dept",
        title="运转类支出＋特定目标类支出＝项目支出",
        left_label="运转类＋特定目标类",
        left=(fld("nat_operating"), fld("nat_specific")),
        op=Op.EQ,
        right_label="项目支出",
        right=(fld("exp_project"),),
        severity=Severity.ERROR,
    ),
    Rule(
        id="dept.budget.special_vs_project",
        kind="dept",
        title="区（县）本级安排＋上级转移支付＝项目支出",
        left_label="本级安排＋上级转移支付",
        left=(fld("sp_local"), fld("sp_transfer")),
        op=Op.EQ,
        right_label="项目支出",
        right=(fld("exp_project"),),
        severity=Severity.ERROR,
    ),
    Rule(
        id="dept.tasks.row_sum",
        kind="dept",
        title="年度主要任务：预算资金＝财政拨款＋其他资金",
        left_label="预算资金",
        left=(cell("tasks.budget"),),
        op=Op.EQ,
        right_label="财政拨款＋其他资金",
        right=(cell("tasks.fiscal"), cell("tasks.other")),
        severity=Severity.ERROR,
        table="tasks",
    ),
    Rule(
        id="dept.tasks.total_vs_project",
        kind="dept",
        title="年度主要任务预算资金合计＝项目支出",
        left_label="任务预算资金合计",
        left=(colsum("tasks.budget"),),
        op=Op.EQ,
        right_label="项目支出",
        right=(fld("exp_project"),),
        severity=Severity.WARNING,
    ),
    Rule(
        id="dept.staff.prev",
        kind="dept",
        title="在职人员总数≤人员编制数（上年）",
        left_label="在职人员总数",
        left=(fld("staff_actual_prev"),),
        op=Op.LE,
        right_label="人员编制数",
        right=(fld("staff_quota_prev"),),
        severity=Severity.WARNING,
        unit="人",
        decimals=0,
        missing=Missing.SKIP,
    ),
    Rule(
        id="dept.staff.curr",
        kind="dept",
        title="在职人员总数≤人员编制数（当年）",
        left_label="在职人员总数",
        left=(fld("staff_actual_curr"),),
        op=Op.LE,
        right_label="人员编制数",
        right=(fld("staff_quota_curr"),),
        severity=Severity.WARNING,
        unit="人",
        decimals=0,
        missing=Missing.SKIP,
    ),
)

# Rules on derived values (perfxl.derive): checked in Python, not shown in sheets.
RULES += (
    Rule(
        id="project.cost.total_vs_budget",
        kind="project",
        title="项目总成本指标≤年度预算资金总额",
        left_label="项目总成本指标",
        left=(fld("cost_total"),),
        op=Op.LE,
        right_label="年度预算资金总额",
        right=(fld("total"),),
        severity=Severity.WARNING,
        missing=Missing.SKIP,
    ),
    Rule(
        id="project.cost.components_vs_total",
        kind="project",
        title="各项成本指标之和＝项目总成本",
        left_label="各项成本指标之和",
        left=(fld("cost_components"),),
        op=Op.EQ,
        right_label="项目总成本指标",
        right=(fld("cost_total"),),
        severity=Severity.WARNING,
        missing=Missing.SKIP,
    ),
    Rule(
        id="project.cost.unit_standard",
        kind="project",
        title="单位成本标准×数量＝对应成本指标",
        left_label="标准×数量",
        left=(cell("unit_costs.expected"),),
        op=Op.EQ,
        right_label="对应成本指标",
        right=(cell("unit_costs.component"),),
        severity=Severity.WARNING,  # a heuristic match by name and unit
        missing=Missing.SKIP,
        table="unit_costs",
        tolerance=0.0,
        # 16.67 万元/场 × 6 场 = 100.02 against a cost of 100: the standard was rounded
        tolerance_column="tolerance",
        tolerance_note="按填写精度：标准末位的一半×数量＋成本末位的一半",
    ),
    Rule(
        id="dept.counts.units",
        kind="dept",
        title="直属单位数＝名单所列单位数",
        left_label="直属单位数",
        left=(fld("units_count"),),
        op=Op.EQ,
        right_label="名单所列单位数",
        right=(fld("units_listed"),),
        severity=Severity.WARNING,
        unit="个",
        decimals=0,
        missing=Missing.SKIP,
    ),
    Rule(
        id="dept.counts.depts",
        kind="dept",
        title="内设职能部门数＝名单所列部门数",
        left_label="内设职能部门数",
        left=(fld("depts_count"),),
        op=Op.EQ,
        right_label="名单所列部门数",
        right=(fld("depts_listed"),),
        severity=Severity.WARNING,
        unit="个",
        decimals=0,
        missing=Missing.SKIP,
    ),
)

# Across forms (merge joins the values; DESIGN.md §3, reference/domain.md 13).
RULES += (
    Rule(
        id="cross.task_vs_project",
        kind="cross",
        title="部门年度主要任务中的项目预算＝项目表年度预算资金总额",
        left_label="任务表中的预算资金",
        left=(fld("task_budget"),),
        op=Op.EQ,
        right_label="项目表年度预算资金总额",
        right=(fld("project_total"),),
        severity=Severity.WARNING,  # a project form may cover one implementing unit only
        missing=Missing.SKIP,
    ),
    Rule(
        id="cross.projects_vs_project_exp",
        kind="cross",
        title="本部门各项目表资金合计≤部门项目支出",
        left_label="项目表合计",
        left=(fld("projects_total"),),
        op=Op.LE,
        right_label="部门项目支出",
        right=(fld("exp_project"),),
        severity=Severity.INFO,
        missing=Missing.SKIP,
    ),
)

# Magnitudes (疑似按元填报): an amount typed in 元 in a 万元 cell is 10,000× too large, and no
# sum ties it to anything when the whole form was typed that way. Related amounts of one form
# (or of a project and its department) are compared by ratio: ≥ 1,000× apart is a warning.
# Python only (no live cell): a spreadsheet user sees the sums; these need the judgement.
_YUAN = "疑似按元填报："
_YUAN_ADVICE = "金额以万元为单位：核对是否把“元”的数字填进了万元格（相差 10,000 倍），换算后重填"


def _magnitude(
    id: str, title: str, left: tuple[str, Term], op: Op, right: tuple[str, Term], table: str | None = None
) -> Rule:
    """A 疑似按元填报 rule: the same severity, missing-value policy and advice for every pair of
    amounts compared by ratio; checked in Python only, listed in 交叉校验 only when it fires."""
    return Rule(
        id=id,
        kind=id.split(".")[0],  # type: ignore[arg-type]
        title=_YUAN + title,
        left_label=left[0],
        left=(left[1],),
        op=op,
        right_label=right[0],
        right=(right[1],),
        severity=Severity.WARNING,
        tolerance=0.0,
        missing=Missing.SKIP_ZERO,
        table=table,
        sheet=False,
        advice=_YUAN_ADVICE,
        show_passes=False,  # a plausibility test, not an identity: only its alarms are news
    )


RULES += (
    _magnitude("project.scale.cost_vs_budget", "项目总成本指标不足年度预算资金总额的 1/100",
               ("项目总成本指标", fld("cost_total")), Op.GE, ("年度预算资金总额÷100", fld("total", scale=0.01))),
    _magnitude("project.scale.budget_vs_cost", "项目总成本指标是年度预算资金总额的 1,000 倍以上",
               ("项目总成本指标", fld("cost_total")), Op.LE, ("年度预算资金总额×1,000", fld("total", scale=1000.0))),
    _magnitude("dept.scale.task_vs_project", "任务预算资金是部门项目支出的 1,000 倍以上",
               ("任务预算资金", cell("tasks.budget")), Op.LE, ("项目支出×1,000", fld("exp_project", scale=1000.0)),
               table="tasks"),
    _magnitude("dept.scale.project_vs_tasks", "项目支出是年度主要任务预算资金合计的 1,000 倍以上",
               ("项目支出", fld("exp_project")), Op.LE,
               ("任务预算资金合计×1,000", colsum("tasks.budget", scale=1000.0))),
    _magnitude("cross.scale.project_vs_dept", "项目表年度预算资金总额是主管部门项目支出的 1,000 倍以上",
               ("项目表年度预算资金总额", fld("project_total")), Op.LE,
               ("部门项目支出×1,000", fld("exp_project", scale=1000.0))),
)  # fmt: skip

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
CROSS_RULES: dict[str, Rule] = {r.id: r for r in RULES if r.kind == "cross"}
if len(RULES_BY_ID) != len(RULES):  # pragma: no cover - guards the registry itself
    raise RuntimeError("duplicate rule id in perfxl.rules.RULES")


def _registered(rule_id: str) -> Rule:
    return RULES_BY_ID[rule_id]


def rules_for(kind: str) -> list[Rule]:
    """The rules that apply to one form kind (dept, project, or cross for merge)."""
    return [r for r in RULES if r.kind == kind]


# ----- evaluation in Python ---------------------------------------------------------

Number = float | None
# unchecked: a term's cell holds something that is not a number (约8, 待定, a date). That cell is
# reported once, on itself; the rules using it say 无法校验 instead of counting it as 0.
Status = Literal["pass", "fail", "skip", "incomplete", "unchecked"]
UNREADABLE = float("nan")  # how numeric views mark such a cell (numeric_view(mark_unreadable=True))


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    rule: Rule
    row: int | None  # 0-based table row for row rules
    left: float | None
    right: float | None
    status: Status

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a cached report holds several; the dataclass default unpickles 3× slower
        return _outcome, (self.rule, self.row, self.left, self.right, self.status)

    @property
    def diff(self) -> float | None:
        if self.left is None or self.right is None:
            return None
        return round(self.left - self.right, 10)


def _outcome(rule: Rule, row: int | None, left: float | None, right: float | None, status: Status) -> Outcome:
    return Outcome(rule=rule, row=row, left=left, right=right, status=status)


def side_sum(
    terms: Sequence[Term],
    fields: Mapping[str, Number],
    tables: Mapping[str, Sequence[Mapping[str, Number]]],
    row: int | None,
) -> float:
    """A side's value as its formula computes it (blanks count as 0)."""
    return _side(terms, fields, tables, row)[0]


def _side(
    terms: Sequence[Term],
    fields: Mapping[str, Number],
    tables: Mapping[str, Sequence[Mapping[str, Number]]],
    row: int | None,
) -> tuple[float, int, bool, int]:
    """Sum of a side, how many of its terms were present, whether one was unreadable, and
    how many present terms were 0."""
    total = 0.0
    present = 0
    unreadable = False
    zeros = 0
    for t in terms:
        if t.agg == "value":
            vals: list[Number] = [fields.get(t.ref)]
        elif t.agg == "row":
            assert row is not None and t.table is not None
            vals = [tables[t.table][row].get(t.column)]
        else:
            assert t.table is not None
            vals = [r.get(t.column) for r in tables.get(t.table, ())]
        nums = [v for v in vals if v is not None]
        if any(v != v for v in nums):  # NaN: UNREADABLE
            unreadable = True
            nums = [v for v in nums if v == v]
        if nums:
            present += 1
            value = sum(nums)
            zeros += value == 0
            total += t.sign * t.scale * value
    return total, present, unreadable, zeros


def _judge(rule: Rule, left: float, right: float, extra: float = 0.0) -> bool:
    """Differences are rounded to 6 places first: float noise on large sums must not
    tip a comparison that is exact in cents (the formulas do the same)."""
    tol = rule.tol + extra + EPSILON
    diff = round(left - right, DIFF_PLACES)
    if rule.op is Op.EQ:
        return abs(diff) <= tol
    if rule.op is Op.LE:
        return diff <= tol
    return -diff <= tol


def evaluate(
    rule: Rule,
    fields: Mapping[str, Number],
    tables: Mapping[str, Sequence[Mapping[str, Number]]] | None = None,
) -> list[Outcome]:
    """Apply a rule to typed values; one outcome per form, or per table row."""
    tables = tables or {}
    rows: list[int | None] = list(range(len(tables.get(rule.table, ())))) if rule.table else [None]
    out: list[Outcome] = []
    n = len(rule.terms)
    for row in rows:
        lv, lp, lu, lz = _side(rule.left, fields, tables, row)
        rv, rp, ru, rz = _side(rule.right, fields, tables, row)
        present = lp + rp
        status: Status
        if lu or ru:
            out.append(
                Outcome(
                    rule=rule,
                    row=row,
                    left=None if lu else round(lv, 10),
                    right=None if ru else round(rv, 10),
                    status="unchecked",
                )
            )
            continue
        partial = present < n or (rule.missing is Missing.SKIP_ZERO and lz + rz > 0)
        if present == 0 or (rule.missing in (Missing.SKIP, Missing.SKIP_ZERO) and partial):
            status = "skip"
        elif rule.missing is Missing.FLAG and present < n:
            status = "incomplete"
        else:
            extra = 0.0
            if rule.tolerance_column and rule.table and row is not None:
                extra = tables[rule.table][row].get(rule.tolerance_column) or 0.0
            status = "pass" if _judge(rule, lv, rv, extra) else "fail"
        if status == "skip" and rule.table:
            continue  # empty table rows are not outcomes
        known = status != "skip"
        out.append(
            Outcome(
                rule=rule,
                row=row,
                left=round(lv, 10) if known else None,
                right=round(rv, 10) if known else None,
                status=status,
            )
        )
    return out


# ----- compilation to spreadsheet formulas ----------------------------------------


@dataclass(frozen=True)
class Resolver:
    """Where values sit, as absolute A1 references (with sheet names)."""

    field: Callable[[str], str]  # field id -> 'Sheet'!$C$5
    column: Callable[[str, str], str]  # table, column -> 'Sheet'!$E$5:$E$34
    row_cell: Callable[[str, str, int], str]  # table, column, 0-based row -> ref


def _term_ref(t: Term, res: Resolver, row: int | None) -> str:
    if t.agg == "value":
        return res.field(t.ref)
    assert t.table is not None
    if t.agg == "row":
        assert row is not None
        return res.row_cell(t.table, t.column, row)
    return res.column(t.table, t.column)


def side_formula(terms: Sequence[Term], res: Resolver, row: int | None = None) -> str:
    """SUM() ignores blanks and stray text, as the Python side does."""
    if any(t.scale != 1 for t in terms):
        raise ValueError("scaled terms are checked in Python only (Rule.sheet=False)")
    plus = [_term_ref(t, res, row) for t in terms if t.sign > 0]
    minus = [_term_ref(t, res, row) for t in terms if t.sign < 0]
    expr = f"SUM({','.join(plus)})" if plus else "0"
    if minus:
        expr += f"-SUM({','.join(minus)})"
    return expr


def present_formula(rule: Rule, res: Resolver, row: int | None = None) -> str:
    parts = [f"(COUNT({_term_ref(t, res, row)})>0)" for t in rule.terms]
    return "(" + "+".join(parts) + ")"


def _num(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".")


def result_formula(rule: Rule, left: str, right: str, present: str) -> str:
    """The ✓ / ✗ cell: mirrors `evaluate` (same tolerance, same missing policy)."""
    tol = _num(rule.tol + EPSILON)
    fmt = rule.number_format
    diff = f"ROUND(({left})-({right}),{DIFF_PLACES})"
    if rule.op is Op.EQ:
        core = f'IF(ABS({diff})<={tol},"✓","✗ 差额 "&TEXT(({left})-({right}),"{fmt}"))'
    elif rule.op is Op.LE:
        core = f'IF({diff}<={tol},"✓","✗ 超出 "&TEXT(({left})-({right}),"{fmt}"))'
    else:
        core = f'IF(-{diff}<={tol},"✓","✗ 不足 "&TEXT(({right})-({left}),"{fmt}"))'
    n = len(rule.terms)
    if rule.missing is Missing.SKIP:
        return f'IF({present}<{n},"",{core})'
    if rule.missing is Missing.FLAG:
        return f'IF({present}=0,"",IF({present}<{n},"✗ 未填完整",{core}))'
    return f'IF({present}=0,"",{core})'


def result_text(outcome: Outcome) -> str:
    """What the check cell shows for an outcome, for comparing with a spreadsheet."""
    rule = outcome.rule
    if outcome.status in ("skip", "unchecked"):  # unchecked: only the checker marks unreadable cells
        return ""
    if outcome.status == "incomplete":
        return "✗ 未填完整"
    if outcome.status == "pass":
        return "✓"
    assert outcome.left is not None and outcome.right is not None
    if rule.op is Op.EQ:
        word, value = "差额", outcome.left - outcome.right
    elif rule.op is Op.LE:
        word, value = "超出", outcome.left - outcome.right
    else:
        word, value = "不足", outcome.right - outcome.left
    return f"✗ {word} {value:,.{rule.decimals}f}"
