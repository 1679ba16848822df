"""Benchmark (not a test): check and merge at county and city scale.

Usage:  python bench/bench_merge.py [--sizes 2000,20000] [--jobs 2] [--data bench/.data]

Generates N synthetic filled submissions with our own `fill` (about one
department form per ten project forms, table sizes drawn from the seed's 13
forms, names and amounts varied), cached under --data. Then, on the same files
and in the same run, times:
  (a) python-calamine reading every cell of every sheet + a stdlib zip/XML scan
      of workbook.xml and sheet protection: the floor;
  (b) openpyxl load_workbook (default mode): what a naive tool does;
  template generation per copy; `check` per file; `merge` end to end with
  --jobs 1 and --jobs N (peak RSS of the merge process tree measured).
Prints per-submission costs and ratios to (a) and (b).
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "data"


def _variant(args: tuple[int, str, Path]) -> None:
    """One synthetic submission: a seed form with a new name and scaled amounts."""
    from perfxl.data import FormData
    from perfxl.exchange import fill_file

    i, base, out = args
    rnd = random.Random(i)
    data = FormData.from_json(json.loads((SAMPLES / base).read_text(encoding="utf-8")))
    key = "dept_name" if data.kind == "dept" else "project_name"
    data.fields[key] = f"{data.fields[key]}（{i:05d}）"
    if data.kind == "project":
        data.fields["competent"] = f"第{i // 11:04d}号部门"
    scale = rnd.choice([0.5, 1, 1, 2, 3])
    for k, v in list(data.fields.items()):
        if isinstance(v, float) and k not in ("staff_quota_prev", "staff_quota_curr"):
            data.fields[k] = round(v * scale, 2)
    fill_file(data, out)


def generate(n: int, folder: Path, jobs: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    bases = sorted(p.name for p in SAMPLES.glob("*.json"))
    depts = [b for b in bases if b.startswith("部门")]
    projects = [b for b in bases if b.startswith("项目")]
    work = []
    for i in range(n):
        base = depts[i // 11 % len(depts)] if i % 11 == 0 else projects[i % len(projects)]
        out = folder / f"{i:05d}.xlsx"
        if not out.exists():
            work.append((i, base, out))
    if work:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(_variant, work, chunksize=64))
    return sorted(folder.glob("*.xlsx"))[:n]


def baseline_a(path: Path) -> None:
    from python_calamine import CalamineWorkbook

    raw = path.read_bytes()
    book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        ET.fromstring(z.read("xl/workbook.xml"))
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                re.search(rb"<sheetProtection[^>]*>", z.read(name))


def baseline_b(path: Path) -> None:
    import openpyxl

    openpyxl.load_workbook(path).close()


def per_file(fn, files: list[Path]) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    for p in files:
        fn(p)
    return (time.perf_counter() - t) / len(files) * 1000


def run_merge(folder: Path, jobs: int, out: Path, *extra: str) -> tuple[float, float]:
    """Wall time and peak RSS (MB, largest process of the tree) of `perfxl merge`; a full merge
    unless `extra` says otherwise (no cache, no previous round)."""
    code = (  # as the `perfxl` command runs it (perfxl.entry.run), with the peak RSS printed before the exit
        "import resource,sys; sys.argv=['perfxl','merge',sys.argv[1],'-o',"
        "sys.argv[2],'--jobs',sys.argv[3],'-q',*sys.argv[4:]]\nfrom perfxl.entry import early\nearly(sys.argv[1:])\n"
        "from perfxl.cli import main, hard_exit\ncode=0\n"
        "try:\n main()\nexcept SystemExit as e:\n code=e.code\n"
        "r=max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nprint('RSS',r)\nhard_exit(code)"
    )
    args = list(extra) or ["--no-cache", "--fresh"]
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(out), str(jobs), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t
    rss = int(re.search(r"RSS (\d+)", proc.stdout).group(1)) / 1024  # type: ignore[union-attr]
    return wall, rss


def remerge(files: list[Path], jobs: int, data: Path, repeat: int = 1) -> float:
    """The review loop: merge N files (filling the cache), replace one with a corrected file,
    merge again with the previous round and the cache; `repeat` times, each with another file
    replaced: the median wall time of those re-merges."""
    import shutil
    import tempfile

    from perfxl.data import FormData
    from perfxl.exchange import export_file, fill_file

    walls = []
    with tempfile.TemporaryDirectory(dir=data) as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        for p in files:
            os.link(p, inbox / p.name)
        out = Path(tmp) / "merged.xlsx"
        run_merge(inbox, jobs, out, "--fresh")
        for k in range(max(1, repeat)):
            victim = inbox / files[(len(files) // 2 + k * 97) % len(files)].name
            form: FormData = export_file(victim)
            victim.unlink()
            fill_file(form, victim, seq=f"corrected{k}")  # the same entity, resubmitted: new bytes
            wall, _ = run_merge(inbox, jobs, out, "--round-date", f"2026-01-{k + 2:02d}")
            walls.append(wall)
        shutil.rmtree(inbox)
    if len(walls) > 1:
        print("  re-merges: " + ", ".join(f"{w:.1f} s" for w in walls))
    return statistics.median(walls)


def median_run(folder: Path, jobs: int, out: Path, reps: int) -> tuple[float, float]:
    runs = [run_merge(folder, jobs, out) for _ in range(max(1, reps))]
    if len(runs) > 1:
        print(f"  merge --jobs {jobs}: " + ", ".join(f"{w:.1f} s" for w, _ in runs))
    return statistics.median(w for w, _ in runs), max(r for _, r in runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,20000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / ".data")
    ap.add_argument("--sample", type=int, default=2000, help="files timed for the per-file baselines")
    ap.add_argument("--repeat", type=int, default=3, help="merge runs per size up to 5,000 (median reported)")
    ap.add_argument("--remerge-only", action="store_true", help="only the re-merge scenario, --repeat times")
    args = ap.parse_args()
    # an installed perfxl has its bytecode (pip compiles it); where PYTHONDONTWRITEBYTECODE is set
    # (this machine sets it) every timed process would compile perfxl again: 0.1 s of each run
    compileall.compile_dir(str(ROOT / "perfxl"), quiet=1)
    if args.remerge_only:
        for n in [int(x) for x in args.sizes.split(",")]:
            files = generate(n, args.data / f"n{n}", args.jobs)
            wall = remerge(files, args.jobs, args.data, args.repeat)
            print(f"N={n}: re-merge after one file replaced, median {wall:.1f} s")
        return
    from perfxl.check import check_paths
    from perfxl.forms import get_spec
    from perfxl.package import CopyInfo
    from perfxl.template import render_template

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    t = time.perf_counter()
    for i in range(40):
        render_template(get_spec("project" if i % 2 else "dept"), 2024, info=CopyInfo(entity=f"单位{i}", seq=str(i)))
    print(f"template generation: {(time.perf_counter() - t) / 40 * 1000:.1f} ms per copy")
    rows = []
    remerges: list[tuple[int, float]] = []
    for n in [int(x) for x in args.sizes.split(",")]:
        folder = args.data / f"n{n}"
        t = time.perf_counter()
        files = generate(n, folder, args.jobs)
        print(f"\nN={n}: {len(files)} submissions ready ({time.perf_counter() - t:.0f} s to generate)")
        sample = random.Random(1).sample(files, min(args.sample, len(files)))
        a = statistics.median([per_file(baseline_a, sample) for _ in range(2)])
        b = per_file(baseline_b, sample[:100])
        check_paths(sample[:5])
        t = time.perf_counter()
        check_paths(sample)
        chk = (time.perf_counter() - t) / len(sample) * 1000
        out = args.data / f"merged_{n}.xlsx"
        reps = args.repeat if n <= 5000 else 1  # this machine varies ±20 % run to run: take the median
        wall1, rss1 = median_run(folder, 1, out, reps) if n <= 5000 else (float("nan"), float("nan"))
        wallj, rssj = median_run(folder, args.jobs, out, reps)
        m1 = wall1 / n * 1000
        mj = wallj / n * 1000
        print(f"  (a) calamine + zip scan      {a:7.2f} ms/file")
        print(f"  (b) openpyxl load_workbook   {b:7.2f} ms/file")
        print(
            f"  check (one process)          {chk:7.2f} ms/file   = {chk / a:4.2f}× (a),"
            f" {b / chk:5.1f}× faster than (b)"
        )
        if n <= 5000:
            print(
                f"  merge --jobs 1 end to end    {m1:7.2f} ms/file   = {m1 / a:4.2f}× (a),"
                f" {b / m1:5.1f}× faster than (b); {wall1:.1f} s, peak RSS {rss1:.0f} MB"
            )
        print(
            f"  merge --jobs {args.jobs} end to end    {mj:7.2f} ms/file   = {mj * args.jobs / a:4.2f}× (a) in CPU,"
            f" {b / mj:5.1f}× faster than (b); {wallj:.1f} s wall, peak RSS {rssj:.0f} MB"
        )
        rows.append((n, a, b, chk, m1, mj, wall1, wallj, rssj))
        remerges.append((n, remerge(files, args.jobs, args.data)))
    print(
        "\n| N | (a) ms | (b) ms | check ms | merge -j1 ms | merge -j2 ms | check vs (a) |"
        " merge vs (b) | merge -j2 s | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, a, b, chk, m1, mj, _w1, wj, rss in rows:
        print(
            f"| {n} | {a:.2f} | {b:.1f} | {chk:.2f} | {m1:.2f} | {mj:.2f} | {chk / a:.2f}× | {b / mj:.0f}× |"
            f" {wj:.1f} | {rss:.0f} |"
        )
    print("\nre-merge after one of N files was replaced (previous round and cache beside the output):")
    for n, wall in remerges:
        limit = {2000: 2.5, 20000: 25.0}.get(n)
        verdict = f" [≤ {limit} s: {'met' if wall <= limit else 'NOT met'}]" if limit else ""
        print(f"  N={n}: {wall:.1f} s{verdict}")
    print("\ntargets (issue 6):")
    for n, a, b, chk, _m1, mj, _w1, wj, rss in rows:
        limit = {2000: 10.0, 20000: 90.0}.get(n)
        print(
            f"  N={n}: check {chk / a:.2f}× (a) [≤ 2×: {'met' if chk / a <= 2 else 'NOT met'}];"
            f" merge --jobs {args.jobs} {mj * args.jobs / a:.2f}× (a) in CPU time;"
            f" end to end {b / mj:.0f}× faster than (b) [≥ 30×: {'met' if b / mj >= 30 else 'NOT met'}];"
            + (f" {wj:.1f} s [< {limit:.0f} s: {'met' if wj < limit else 'NOT met'}];" if limit else "")
            + f" peak RSS {rss:.0f} MB [< 1 GB: {'met' if rss < 1024 else 'NOT met'}]"
        )


if __name__ == "__main__":
    main()
