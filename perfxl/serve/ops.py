"""Set-up, demo data, backup and restore of an intake data folder (for the CLI)."""

from __future__ import annotations

import sqlite3
import tempfile
import zipfile
from pathlib import Path

from perfxl.serve import intake
from perfxl.serve.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # a source checkout's samples


def load_demo(data: Path) -> int:
    """The 13 published forms, each taken in and submitted for its catalog entry."""
    from perfxl.check import check_paths

    store = Store(data)
    try:
        n = 0
        for path in sorted(SAMPLES.glob("*.xlsx")):
            (report,) = check_paths([path], year=store.year or None).files
            entity = store.find_entity(report.kind, report.entity)
            if entity is None:
                continue
            v = intake.take_in(store, entity, path.read_bytes(), path.name, source="示例", purpose="提交")
            if intake.submit(store, entity, v, "示例数据：原表中的警告按公开文本保留") == "":
                n += 1
        return n
    finally:
        store.close()


def backup(data: Path, out: Path) -> int:
    """A consistent copy: the database through SQLite's online backup, then the files."""
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "perfxl.sqlite"
        src = sqlite3.connect(data / "perfxl.sqlite")
        dst = sqlite3.connect(snap)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        count = 0
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(snap, "perfxl.sqlite")
            for path in sorted(data.rglob("*")):
                rel = path.relative_to(data)
                if (path.is_file() and rel.parts[0] in ("files", "inbox", "export", "annotated")) or (
                    path.is_file() and len(rel.parts) == 1 and rel.name.startswith(("目录", "secret_key", "上传链接"))
                ):
                    z.write(path, rel.as_posix())
                    count += 1
        return count


def restore(archive: Path, data: Path) -> None:
    """Into an empty (or new) folder only: a restore never mixes two rounds."""
    if data.exists() and any(data.iterdir()):
        raise FileExistsError(f"{data} 不是空文件夹")
    data.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            target = (data / info.filename).resolve()
            if not target.is_relative_to(data.resolve()):
                raise ValueError(f"备份文件中的路径不安全：{info.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
