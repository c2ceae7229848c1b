"""Word files: paragraphs and tables in document order, merged cells expanded on the grid."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES, load_gold, seed_names
from docx import Document as new_docx

from nianbao.app.pipeline import process_file
from nianbao.extract.ingest import IngestError, read_document

DOCS = FIXTURES / "docs"


def _merged_table_docx(path):
    doc = new_docx()
    doc.add_paragraph("三、收到和处理政府信息公开申请情况")
    table = doc.add_table(rows=3, cols=4)
    head = table.cell(0, 0).merge(table.cell(0, 1))  # gridSpan 2
    head.text = "申请人情况"
    table.cell(0, 2).text = "总计"
    group = table.cell(1, 0).merge(table.cell(2, 0))  # vMerge over two rows
    group.text = "（四）无法提供"
    for r, (label, n) in enumerate([("1.本机关不掌握相关政府信息", "3"), ("2.没有现成信息需要另行制作", "0")], 1):
        table.cell(r, 1).text = label
        table.cell(r, 2).text = n
        cell = table.cell(r, 3)
        cell.text = "第一行"
        cell.add_paragraph("第二行")  # a label wrapped inside one cell is one cell
    doc.add_paragraph("四、政府信息公开行政复议、行政诉讼情况")
    doc.save(path)


def test_tables_come_out_as_tab_rows_with_merged_cells_once(tmp_path):
    path = tmp_path / "r.docx"
    _merged_table_docx(path)
    doc = read_document(path)
    lines = [ln for ln in doc.text.splitlines() if ln]
    assert lines[0] == "三、收到和处理政府信息公开申请情况"
    assert lines[1] == "申请人情况\t\t总计"
    assert lines[2] == "（四）无法提供\t1.本机关不掌握相关政府信息\t3\t第一行第二行"
    assert lines[3] == "\t2.没有现成信息需要另行制作\t0\t第一行第二行"
    assert lines[4] == "四、政府信息公开行政复议、行政诉讼情况"
    assert doc.kind == "docx"


def test_old_doc_without_libreoffice_says_how_to_convert(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(IngestError) as err:
        read_document(path)
    assert "convert" in str(err.value) and "old.doc" in str(err.value)
    assert "\n" not in str(err.value)


def test_broken_docx_is_one_line(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04" + b"word/document.xml" + b"\x00" * 200)
    with pytest.raises(IngestError) as err:
        read_document(path)
    assert "broken.docx" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", seed_names())
def test_seed_docx_extracts_exactly_the_gold_cells(name):
    ex = process_file(DOCS / f"{name}.docx")
    gold = load_gold(name)["cells"]
    wrong = {k: (ex.values().get(k), v) for k, v in gold.items() if ex.values().get(k) != v}
    assert not wrong
