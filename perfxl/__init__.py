"""perfxl: 预算绩效目标表的模板生成、填报校验与汇总。

The public API is what `__all__` names; everything else is private. Names load on first
use, so `import perfxl` stays light (no pandas, pandera or openpyxl until they are needed).

    import perfxl
    report = perfxl.check_files(["收件箱/民政局.xlsx"], year=2024)
    result = perfxl.merge(["收件箱"], catalog="目录.csv", year=2024)
    perfxl.write_consolidated(result, "汇总.xlsx")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it
_EXPORTS = {
    "CatalogEntry": "catalog", "read_catalog": "catalog",
    "CatalogError": "errors", "OutputError": "errors", "PerfxlError": "errors", "SpecError": "errors",
    "Finding": "findings", "Severity": "findings",
    "KINDS": "forms", "get_spec": "forms",
    "RULES": "rules", "Rule": "rules", "evaluate": "rules", "rules_for": "rules",
    "DEFAULT_PASSWORD": "template", "CopyInfo": "package", "render_template": "template",
    "write_catalog_templates": "template", "write_template": "template",
    "CheckReport": "check", "FileReport": "check", "check_paths": "check",
    "check_files": "isolate",
    "MergeResult": "merging", "merge": "merging",
    "write_consolidated": "consolidated",
    "FormData": "data", "json_schema": "data",
    "export_file": "exchange", "fill_file": "exchange",
    "Target": "values", "parse_amount": "values", "parse_target": "values",
}  # fmt: skip

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
    "check_files",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perfxl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"perfxl.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from perfxl.catalog import CatalogEntry, read_catalog
    from perfxl.check import CheckReport, FileReport, check_paths
    from perfxl.consolidated import write_consolidated
    from perfxl.data import FormData, json_schema
    from perfxl.errors import CatalogError, OutputError, PerfxlError, SpecError
    from perfxl.exchange import export_file, fill_file
    from perfxl.findings import Finding, Severity
    from perfxl.forms import KINDS, get_spec
    from perfxl.isolate import check_files
    from perfxl.merging import MergeResult, merge
    from perfxl.package import CopyInfo
    from perfxl.rules import RULES, Rule, evaluate, rules_for
    from perfxl.template import DEFAULT_PASSWORD, render_template, write_catalog_templates, write_template
    from perfxl.values import Target, parse_amount, parse_target
