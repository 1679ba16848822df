"""Writing outputs so that a crash or a kill never leaves half a file where a whole one was."""

from __future__ import annotations

from pathlib import Path

from perfxl.errors import OutputError, os_reason


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it: the old file stays whole
    until the new one is; OutputError (Chinese) when the folder cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"无法写入 {path}：{os_reason(exc)}") from exc


def safe_filename(text: str) -> str:
    """A name made safe for a file name on Windows and Linux (reserved characters and control
    characters become _); the rest of the text stays as written."""
    return "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in text)
