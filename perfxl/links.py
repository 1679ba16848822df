"""Links from the consolidated workbook back to the submitted files: relative, so the whole
folder can be moved or copied to another machine and the links still open the right cell."""

from __future__ import annotations

import os
from pathlib import Path

from perfxl.read import Loc


class SourceLinks:
    """(url, text) of a relative link to a source file and cell, folders resolved once each
    (thousands of files share a few folders)."""

    def __init__(self, out_dir: Path) -> None:
        self._out_real = str(out_dir.resolve())
        self._rel: dict[Path, str] = {}
        self._folders: dict[Path, str] = {}

    def __call__(self, path: Path | None, loc: Loc | None = None) -> tuple[str, str] | None:
        if path is None:
            return None
        rel = self._rel.get(path)
        if rel is None:
            folder = self._folders.get(path.parent)
            if folder is None:
                folder = self._folders[path.parent] = os.path.relpath(path.parent.resolve(), self._out_real)
            rel = self._rel[path] = os.path.normpath(os.path.join(folder, path.name)).replace(os.sep, "/")
        text = rel if loc is None else f"{rel} {loc.sheet}!{loc.cell}"
        url = f"external:{rel}" + (f"#'{loc.sheet}'!{loc.cell}" if loc else "")
        return url, text
