"""What every check job shares: the report of one file and of a batch, how a
file is rejected with one clear error, and the tool's own failures as findings."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perfxl.codes import severity_of
from perfxl.findings import Finding, Severity
from perfxl.read import Loc, Submission
from perfxl.review import RuleNumbers
from perfxl.rules import Outcome
from perfxl.values import Target

Status = Literal["ok", "findings", "rejected"]
STATUS_LABEL = {"ok": "通过", "findings": "有问题", "rejected": "无法读取"}


@dataclass(kw_only=True)
class FileReport:
    """One input file's outcome: status, findings, and (for merge) what was read."""

    path: Path
    status: Status = "ok"
    kind: str | None = None
    entity: str = ""
    sha256: str = ""
    findings: list[Finding] = field(default_factory=list)
    submission: Submission | None = None
    targets: list[Target] = field(default_factory=list)
    # every rule evaluated on this file, passed and skipped ones included (for 交叉校验)
    outcomes: list[tuple[Outcome, Loc | None]] = field(default_factory=list)
    numbers: RuleNumbers | None = None  # the outcomes' anchors and problem numbers (check_paths)

    # Pickled (the report cache, workers' results), `targets` travels as one inner pickle, unpacked
    # on first use: a re-merge loads every unchanged report and needs the targets of few (the
    # department forms' 共性指标对照, a changed file's rows); a fifth of a report's load time.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "targets" in state:
            state["_targets"] = pickle.dumps(state.pop("targets"), protocol=pickle.HIGHEST_PROTOCOL)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    if not TYPE_CHECKING:  # (mypy would take any attribute of a class with __getattr__)

        def __getattr__(self, name: str) -> Any:
            packed = self.__dict__.get("_targets") if name == "targets" else None
            if packed is None:
                raise AttributeError(name)
            targets: list[Target] = pickle.loads(packed)
            self.targets = targets
            self.__dict__.pop("_targets", None)  # (two threads may unpack at once: both the same)
            return targets

    def add(self, *, rule: str, severity: Severity | None = None, **kw: Any) -> None:
        """Record a finding on this file; its severity is the finding catalog's (codes.py)
        unless the emitter knows better (a rule's own, a parser's per problem)."""
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity or severity_of(rule),
                form=self.kind or "",
                entity=self.entity,
                file=str(self.path),
                **kw,
            )
        )


@dataclass
class CheckReport:
    """The outcome of checking a batch of files, one FileReport each, in input order."""

    files: list[FileReport]
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # met in folders, not workbooks (why)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings]

    def count(self, severity: Severity) -> int:
        return sum(f.severity is severity for f in self.findings)


class Reject(Exception):
    """One clear error instead of a cascade of findings."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def internal_error(r: FileReport, exc: Exception) -> None:
    r.status = "rejected"
    r.add(
        rule="file.internal_error",
        message=f"处理此文件时出错（{type(exc).__name__}: {str(exc)[:200]}），请将文件反馈给财政部门",
    )


BLANKED = frozenset({"value.invalid_number", "value.date"})  # notes on cells the reader then left blank
