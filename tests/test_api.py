"""The public API: what `perfxl.__all__` promises resolves, is documented, and the README's
library example runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import perfxl

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in perfxl.__all__:
        value = getattr(perfxl, name)
        if isinstance(value, (str, tuple, list, dict, frozenset)):
            continue  # constants: KINDS, RULES, DEFAULT_PASSWORD, __version__
        doc = value.__doc__ or ""
        assert doc.strip() and not doc.startswith(f"{name}("), f"{name} has no docstring of its own"
    assert callable(perfxl.merge) and callable(perfxl.check_files)


def test_star_import_and_the_merge_function_beside_its_module() -> None:
    """`from perfxl import *` works, and `perfxl.merge` stays the function even once every
    submodule is loaded (it used to be shadowed by the module of the same name)."""
    code = (
        "from perfxl import *; import perfxl, perfxl.merging, perfxl.cli; "
        "assert callable(merge) and callable(perfxl.merge) and perfxl.merge is perfxl.merging.merge; "
        "print(len(perfxl.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(perfxl.__all__)
    with pytest.raises(AttributeError):
        perfxl.no_such_name  # noqa: B018


def test_readme_library_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 作为 Python 库使用", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    for p in sorted((ROOT / "samples").glob("*.xlsx")):
        shutil.copy(p, inbox / p.name)
    shutil.copy(ROOT / "samples" / "catalog.csv", tmp_path / "目录.csv")
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) >= 13 and any("dept.budget.use_vs_source" in line for line in lines)
    assert (tmp_path / "汇总.xlsx").exists()


def test_readers_do_not_load_the_template_writer() -> None:
    """The conventions both sides share live in perfxl/package.py; reading needs no writer."""
    code = "import sys, perfxl.read, perfxl.check; print('perfxl.template' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_conventions_are_spelled_in_one_place() -> None:
    """Sheet names, defined-name prefixes and _meta keys appear as literals only in package.py."""
    literals = ['"_meta"', '"_lists"', '"填报说明"', '"校验结果"', '"perfxl_meta"', '"issued_for"', '"competent_dept"']
    literals += ['f"fld_', 'f"col_', 'f"tot_', 'f"tbl_', '"spec_version"']
    for path in (ROOT / "perfxl").rglob("*.py"):
        if path.name == "package.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not [lit for lit in literals if lit in text], path.name
