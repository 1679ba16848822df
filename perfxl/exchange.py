"""Workbook ↔ JSON: `export` a filled workbook's data, `fill` a template from data."""

from __future__ import annotations

from pathlib import Path

from perfxl.data import DataError, FormData
from perfxl.forms import get_spec
from perfxl.output import atomic_write
from perfxl.package import CopyInfo
from perfxl.read import read_submission
from perfxl.template import DEFAULT_PASSWORD, render_template


def export_file(path: Path) -> FormData:
    """The form data of a filled workbook, every field and every non-empty row."""
    try:
        sub = read_submission(path)
    except OSError as exc:
        raise DataError(f"无法读取 {path}：{exc.strerror or exc}") from exc
    if sub.problem or sub.data is None:
        raise DataError(f"{path}：{sub.problem}")
    return sub.data


def fill_file(data: FormData, out: Path, *, password: str = DEFAULT_PASSWORD, seq: str = "") -> Path:
    """A template filled with `data`; names come from the data and are locked."""
    spec = get_spec(data.kind)
    entity = data.fields.get(spec.fields[0].id)
    competent = data.fields.get("competent") or (entity if data.kind == "dept" else "")
    info = CopyInfo(entity=str(entity or ""), competent=str(competent or ""), seq=seq)
    atomic_write(out, render_template(spec, data.year, info=info, password=password, data=data))
    return out
