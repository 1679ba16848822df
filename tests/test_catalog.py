"""The catalog as departments and bureaus really save it."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from seed import seed_text

from perfxl.catalog import read_catalog
from perfxl.errors import CatalogError

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "catalog.csv"


def test_sample_catalog_matches_the_seed_directory() -> None:
    entries = read_catalog(SAMPLE)
    assert [(e.kind, e.seq) for e in entries][:4] == [("dept", "1"), ("dept", "2"), ("dept", "3"), ("project", "1")]
    assert sum(e.kind == "dept" for e in entries) == 3
    assert sum(e.kind == "project" for e in entries) == 10
    text = seed_text()
    directory = text[text.index("类别\t序号") : text.index("部门（单位）整体支出绩效目标申报表")]
    for e in entries:
        assert f"{e.seq}\t{e.name}" in directory, e.name
        assert e.competent in text, e.competent  # every 主管部门 is the seed's own wording


def test_gbk_csv_with_blank_category_repeats_the_one_above(tmp_path: Path) -> None:
    p = tmp_path / "目录.csv"
    p.write_bytes(
        "类别,序号,预算部门及项目名称,主管部门\n部门整体绩效目标,1,甲局,\n"
        "项目支出绩效目标,1,项目一,甲局\n,2,项目二,乙局\n".encode("gbk")
    )
    entries = read_catalog(p)
    assert [(e.kind, e.name, e.competent) for e in entries] == [
        ("dept", "甲局", "甲局"),
        ("project", "项目一", "甲局"),
        ("project", "项目二", "乙局"),
    ]


def test_utf8_bom_and_xlsx(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(SAMPLE.read_bytes().decode("utf-8").encode("utf-8-sig"))
    assert len(read_catalog(p)) == 13
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["类别", "序号", "名称", "主管部门"])
    ws.append(["项目支出绩效目标", 1, "两馆免费开放", "济南市历下区文化和旅游局"])
    x = tmp_path / "c.xlsx"
    wb.save(x)
    (e,) = read_catalog(x)
    assert (e.kind, e.seq, e.name) == ("project", "1", "两馆免费开放")


@pytest.mark.parametrize(("content", "message"), [
    ("序号,名称\n1,甲局\n", "缺少列：类别"),
    ("类别,序号,名称,主管部门\n其他,1,甲局,甲局\n", "第 2 行：类别“其他”无法识别"),
    ("类别,序号,名称,主管部门\n项目支出绩效目标,1,项目一,\n", "第 2 行：项目“项目一”缺少主管部门"),
    ("类别,序号,名称,主管部门\n项目支出绩效目标,1,项目一,甲\n项目支出绩效目标,2,项目一,甲\n",
     "第 3 行：与第 2 行重复"),
    ("", "是空的"),
])  # fmt: skip
def test_bad_catalogs_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        read_catalog(p)


def test_not_a_workbook(tmp_path: Path) -> None:
    p = tmp_path / "c.xlsx"
    p.write_text("not a zip", encoding="utf-8")
    with pytest.raises(CatalogError, match="不是有效的 xlsx"):
        read_catalog(p)
