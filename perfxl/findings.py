"""Findings: the one record shape for every problem, in text, JSON and workbooks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """错误 / 警告 / 提示; `--fail-on` compares by rank."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def label(self) -> str:
        return {"error": "错误", "warning": "警告", "info": "提示"}[self.value]

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem in a user's file: rule id, severity, Chinese message and where it is."""

    rule: str
    severity: Severity
    message: str
    form: str = ""
    entity: str = ""
    file: str = ""
    sheet: str = ""
    cell: str = ""
    expected: Any = None
    actual: Any = None
    key: str = ""  # 问题编号 (review.py): stable across resubmissions and re-merges

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in _FIELDS}  # flat: no deep copy as asdict makes
        d["severity"] = self.severity.value
        return d


_FIELDS = tuple(f.name for f in fields(Finding))
