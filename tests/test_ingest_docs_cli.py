"""`nianbao extract` over Word, PDF and image files picked by content, with bad ones in the batch."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, seed_names
from PIL import Image
from test_ingest_pdf import encrypted_pdf
from typer.testing import CliRunner

from nianbao.app.cli import app

pytestmark = pytest.mark.slow  # extracts Word, PDF and scanned files through the CLI


def test_documents_by_content_and_bad_ones_one_line_each(tmp_path):
    seed = seed_names()[-1]
    (tmp_path / "word_without_extension").write_bytes((FIXTURES / "docs" / f"{seed}.docx").read_bytes())
    (tmp_path / "report.pdf").write_bytes((FIXTURES / "docs" / f"{seed}.pdf").read_bytes())
    page = "<html><body><p>某镇2023年政府信息公开工作年度报告</p><table><tr><td>行政许可</td><td>5</td></tr></table>"
    (tmp_path / "page_saved_as.pdf").write_text(page + "</body></html>", encoding="utf-8")
    bad = {"empty.pdf": b"", "locked.pdf": encrypted_pdf(), "torn.pdf": b"%PDF-1.7\n" + b"\x00garbage" * 50}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    Image.new("RGB", (300, 200), "white").save(tmp_path / "blank.png")
    names = ["empty.pdf", "word_without_extension", "locked.pdf", "report.pdf", "torn.pdf", "blank.png",
             "page_saved_as.pdf"]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["extract", *[str(tmp_path / n) for n in names], "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    for name in [*bad, "blank.png"]:
        assert sum(name in ln for ln in lines) == 1, (name, lines)
    assert any("encrypted" in ln for ln in lines if "locked.pdf" in ln)
    assert any("no text" in ln for ln in lines if "blank.png" in ln)
    written = sorted(p.name for p in out.iterdir())
    assert written == ["page_saved_as.json", "report.json", "word_without_extension.json"]
    word = json.loads((out / "word_without_extension.json").read_text("utf-8"))
    pdf = json.loads((out / "report.json").read_text("utf-8"))
    assert word["cells"] == pdf["cells"] and any(v for v in pdf["cells"].values())
