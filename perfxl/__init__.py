"""perfxl: 预算绩效目标表的模板生成、填报校验与汇总。

Public API re-exported here; submodules are private.
"""

from __future__ import annotations

__version__ = "0.1.0"

from perfxl.catalog import CatalogEntry, read_catalog
from perfxl.errors import CatalogError, OutputError, PerfxlError, SpecError
from perfxl.findings import Finding, Severity
from perfxl.forms import KINDS, get_spec
from perfxl.rules import RULES, Rule, evaluate, rules_for
from perfxl.template import (
    DEFAULT_PASSWORD,
    CopyInfo,
    render_template,
    write_catalog_templates,
    write_template,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "KINDS",
    "RULES",
    "CatalogEntry",
    "CatalogError",
    "CheckReport",
    "CopyInfo",
    "FileReport",
    "Finding",
    "FormData",
    "MergeResult",
    "OutputError",
    "PerfxlError",
    "Rule",
    "Severity",
    "SpecError",
    "Target",
    "__version__",
    "check_paths",
    "evaluate",
    "export_file",
    "fill_file",
    "get_spec",
    "json_schema",
    "merge",
    "parse_amount",
    "parse_target",
    "read_catalog",
    "render_template",
    "rules_for",
    "write_catalog_templates",
    "write_consolidated",
    "write_template",
]
