"""Build samples/ from the seed: JSON data, filled workbooks, and samples/bad/.

Usage (repo root, project venv):
    python scripts/make_samples.py               # workbooks from the committed JSON
    python scripts/make_samples.py --transcribe  # (re)transcribe the JSON from the seed first

The JSON in samples/data/ is the reviewed transcription of the published forms;
the workbooks are generated from it with `fill`, so they are reproducible
(tests/test_samples.py checks both).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from perfxl.catalog import read_catalog  # noqa: E402
from perfxl.data import FormData  # noqa: E402
from perfxl.exchange import fill_file  # noqa: E402

SAMPLES = ROOT / "samples"
DATA = SAMPLES / "data"
PREFIX = {"dept": "部门整体", "project": "项目支出"}


def stem(kind: str, seq: str, name: str) -> str:
    return f"{PREFIX[kind]}_{int(seq):02d}_{name}"


def transcribe() -> None:
    from seedfill import seed_data

    data = seed_data()
    DATA.mkdir(parents=True, exist_ok=True)
    for entry in read_catalog(SAMPLES / "catalog.csv"):
        form = data[entry.name]
        (DATA / f"{stem(entry.kind, entry.seq, entry.name)}.json").write_text(form.dumps(), encoding="utf-8")


def build() -> list[Path]:
    out = []
    for entry in read_catalog(SAMPLES / "catalog.csv"):
        s = stem(entry.kind, entry.seq, entry.name)
        form = FormData.from_json(json.loads((DATA / f"{s}.json").read_text(encoding="utf-8")))
        out.append(fill_file(form, SAMPLES / f"{s}.xlsx", seq=entry.seq))
    from bad_samples import build_bad

    out += build_bad(SAMPLES / "bad", DATA)
    return out


if __name__ == "__main__":
    if "--transcribe" in sys.argv:
        transcribe()
    for p in build():
        print(p.relative_to(ROOT))
