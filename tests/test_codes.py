"""The finding catalog covers every id the tool can emit, with the severity it is emitted at."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from perfxl.check import check_paths
from perfxl.codes import finding_types, findings_markdown, report_json_schema, severity_of
from perfxl.findings import Severity
from perfxl.forms import KINDS
from perfxl.merging import merge
from perfxl.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {p: p.read_text(encoding="utf-8") for p in (ROOT / "perfxl").rglob("*.py")}


def emitted_in_source() -> dict[str, set[str]]:
    """Every finding id the sources can produce, by how it is spelled there."""
    ids: dict[str, set[str]] = {}

    def found(how: str, *names: str) -> None:
        ids.setdefault(how, set()).update(names)

    for text in SOURCES.values():
        found("literal", *re.findall(r'\brule="([a-z_]+\.[a-z_.]+)"', text))
        found("literal", *re.findall(r'\bcode="([a-z_]+\.[a-z_.]+)"', text))  # reader notes
        found("literal", *re.findall(r'_RULE = "([a-z_]+\.[a-z_.]+)"', text))
        found("value", *(f"value.{c}" for c in re.findall(r'Problem\(\s*"([a-z_]+)"', text)))
        found("schema", *(f"schema.{c}" for c in re.findall(r'\bcheck\([^\n]*, "([a-z_]+)"\)', text)))
        found("schema", *(f"schema.{c}" for c in re.findall(r'name="([a-z_]+)"\)', text)))
    found("per kind", *(f"{k}.indicators.level1_missing" for k in KINDS))
    found("roster", "submission.superseded", "submission.duplicate")
    found("rules", *(r.id for r in RULES))
    return ids


def test_every_emitted_id_is_in_the_catalog() -> None:
    catalog = finding_types()
    for how, names in emitted_in_source().items():
        assert names, how  # each way of spelling an id still finds some (the scan keeps working)
        assert names <= set(catalog), (how, sorted(names - set(catalog)))


def test_the_samples_emit_only_catalogued_ids_at_their_catalogued_severity() -> None:
    files = sorted((ROOT / "samples").glob("*.xlsx")) + sorted((ROOT / "samples" / "bad").glob("*.xlsx"))
    report = check_paths(files, year=2024)
    result = merge(sorted((ROOT / "samples").glob("*.xlsx")), catalog=ROOT / "samples" / "catalog.csv", year=2024)
    seen = report.findings + result.findings
    assert len({f.rule for f in seen}) > 15
    for f in seen:
        assert f.severity is severity_of(f.rule), (f.rule, f.severity)


def test_parser_problems_have_one_severity_per_id() -> None:
    """A problem code is one finding type: the parsers may not emit it at two severities."""
    for path, text in SOURCES.items():
        for code, level in re.findall(r'Problem\(\s*"([a-z_]+)",[^)]*?"(error|warning|info)"\)', text, re.S):
            assert severity_of(f"value.{code}") is Severity(level), (path.name, code, level)


def test_catalog_entries_say_what_to_do() -> None:
    for t in finding_types().values():
        assert t.title and t.advice and any("\u4e00" <= ch <= "\u9fff" for ch in t.title + t.advice), t.id


def test_docs_are_generated_from_the_catalog() -> None:
    """docs/findings.md and docs/findings.schema.json: regenerate with `perfxl finding-types`."""
    assert (ROOT / "docs" / "findings.md").read_text(encoding="utf-8") == findings_markdown()
    schema = json.loads((ROOT / "docs" / "findings.schema.json").read_text(encoding="utf-8"))
    assert schema == report_json_schema()


def test_check_json_follows_the_schema(tmp_path: Path) -> None:
    import jsonschema

    out = tmp_path / "r.json"
    files = [str(p) for p in sorted((ROOT / "samples").glob("*.xlsx"))[:4]]
    subprocess.run([sys.executable, "-m", "perfxl.cli", "check", *files, "--json", str(out)], capture_output=True)
    jsonschema.validate(json.loads(out.read_text(encoding="utf-8")), report_json_schema())
