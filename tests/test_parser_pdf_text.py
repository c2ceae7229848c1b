"""The parser on the real PDFs' plain text layer (pdfplumber's reading order, no layout rebuilt).

This is the hardest text layout we have: cells in reading order, numbers printed above their
wrapped labels, tables across page breaks. The PDF reader rebuilds rows from word positions; this
test keeps the parser honest without that help.
"""

from __future__ import annotations

import json

import pdfplumber
import pytest

from nianbao.app.pipeline import process_file

pytestmark = pytest.mark.slow  # reads the real PDFs of ../shared

STEMS = ["huaian_shi_2024", "huaian_hongzequ_2023", "huaian_hongzequ_2024"]


@pytest.mark.parametrize("stem", STEMS)
def test_every_gold_cell_from_the_plain_text_layer(stem, shared_dir, tmp_path):
    pdf = shared_dir / "reports" / "pdf" / f"{stem}.pdf"
    gold = json.loads((shared_dir / "reports" / "pdf" / f"{stem}.gold.json").read_text(encoding="utf-8"))
    with pdfplumber.open(pdf) as p:
        text = "\n".join(page.extract_text() or "" for page in p.pages)
    src = tmp_path / f"{stem}.txt"
    src.write_text(text, encoding="utf-8")
    ex = process_file(src)
    wrong = {k: (v, ex.cells[k].value) for k, v in gold["cells"].items() if ex.cells[k].value != v}
    assert not wrong
    assert ex.meta.year == gold["meta"]["year"] and ex.meta.template == gold["meta"]["template"]
