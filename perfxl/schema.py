"""pandera schemas generated from the spec; one lazy pass over many submissions.

Each table kind becomes one DataFrame across all files (index = position in a
list of (submission, row) keys), so validation is vectorised, not per file.
Failure cases come back as (key index, column, check name, value) for the
caller to turn into located findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfxl.forms.model import Column, Field, FormSpec, Table, ValueType
from perfxl.vocab import FRAMES, OPERATORS, PROJECT_CATEGORIES, YES_NO

if TYPE_CHECKING:  # pandas and pandera are heavy: imported when validating, not on import
    import pandas as pd

PHONE = re.compile(r"^(\+?86[- ]?)?(\d{3,4}[- ]?)?\d{7,8}([- ]?(转|-)\d{1,6})?$|^1[3-9]\d{9}$")


@dataclass(frozen=True)
class Failure:
    key: int  # index into the keys list given to validate
    column: str
    check: str  # required / too_long / choice / negative / integer / phone / level_pair
    value: Any


def _choices(t: ValueType, spec: FormSpec) -> tuple[str, ...] | None:
    frame = FRAMES[spec.frame]
    return {
        ValueType.YESNO: YES_NO,
        ValueType.CATEGORY: PROJECT_CATEGORIES,
        ValueType.LEVEL1: tuple(frame.level1()),
        ValueType.OPERATOR: OPERATORS,
    }.get(t)


def _column(item: Field | Column, spec: FormSpec) -> Any:
    import pandas as pd
    import pandera.pandas as pa

    checks: list[Any] = []

    def check(fn: Callable[[pd.Series], pd.Series], name: str) -> None:
        checks.append(
            pa.Check(
                lambda s, fn=fn: s.isna() | fn(s.dropna()).reindex(s.index, fill_value=True),
                name=name,
                element_wise=False,
            )
        )

    if item.max_length and item.type in (ValueType.TEXT, ValueType.LONGTEXT):
        n = item.max_length
        check(lambda s: s.astype(str).str.len() <= n, "too_long")
    choices = _choices(item.type, spec)
    if choices is not None:
        check(lambda s: s.isin(choices), "choice")
    if item.type in (ValueType.MONEY, ValueType.COUNT):
        check(lambda s: pd.to_numeric(s, errors="coerce").fillna(0) >= 0, "negative")
    if item.type is ValueType.COUNT:
        check(lambda s: pd.to_numeric(s, errors="coerce").fillna(0).mod(1) == 0, "integer")
    if item.type is ValueType.PHONE:
        check(lambda s: s.astype(str).str.replace(" ", "").str.match(PHONE), "phone")
    return pa.Column(None, nullable=not item.required, checks=checks, required=False)


def fields_schema(spec: FormSpec) -> Any:
    import pandera.pandas as pa

    return pa.DataFrameSchema({f.id: _column(f, spec) for f in spec.fields if not f.prefill}, strict=False)


def table_schema(spec: FormSpec, table: Table) -> Any:
    import pandas as pd
    import pandera.pandas as pa

    df_checks = []
    if {"level1", "level2"} <= {c.id for c in table.columns}:
        frame = FRAMES[spec.frame]
        pairs = set(frame.pairs())

        def level_pair(d: pd.DataFrame) -> pd.Series:
            ok = [
                not isinstance(a, str)
                or not isinstance(b, str)
                or a not in frame.level1()
                or (a, frame.canonical_level2(b)) in pairs
                for a, b in zip(d["level1"], d["level2"], strict=True)
            ]
            return pd.Series(ok, index=d.index)

        df_checks.append(pa.Check(level_pair, name="level_pair"))
    return pa.DataFrameSchema({c.id: _column(c, spec) for c in table.columns}, checks=df_checks, strict=False)


def validate(schema: Any, records: list[dict[str, Any]], columns: list[str]) -> list[Failure]:
    """Validate records (one per key) in one lazy pass; return every failure."""
    if not records:
        return []
    import pandas as pd
    import pandera.pandas as pa

    df = pd.DataFrame.from_records(records, columns=columns).astype(object)
    df = df.where(df.notna(), None)
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _failures(exc.failure_cases)
    return []


def _failures(cases: pd.DataFrame) -> list[Failure]:
    out: list[Failure] = []
    seen: set[tuple[int, str, str]] = set()
    for row in cases.itertuples(index=False):
        if row.index is None or (isinstance(row.index, float) and row.index != row.index):
            continue  # schema-wide failures (dtype) carry no row
        check = "required" if row.check == "not_nullable" else str(row.check)
        column = str(row.column)
        if check == "level_pair":
            column = "level2"
        key = (int(row.index), column, check)
        if key in seen:
            continue
        seen.add(key)
        out.append(Failure(key=int(row.index), column=column, check=check, value=row.failure_case))
    return out
