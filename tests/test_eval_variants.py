"""`nianbao eval variants`: real reports re-encoded (one line, wrapped, full-width, GB18030, HTML) read
against their own gold. The forms are checked on a small made-up report; the scores on the real dev
corpus (read from ../shared, never copied here) are held by the slow test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nianbao.app.cli import app
from nianbao.eval.variants import VARIANTS, _wrap_line, write_variants

TEXT = "某某县2023年政府信息公开工作年度报告\n一、总体情况\n全年主动公开政府信息 1359 条，其中 12.5 万字。\n"


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    raw, gold = tmp_path / "raw", tmp_path / "gold"
    raw.mkdir()
    gold.mkdir()
    for name in ("a.txt", "b.md"):
        (raw / name).write_text(TEXT, encoding="utf-8")
        (gold / f"{Path(name).stem}.gold.json").write_text(json.dumps({"report": name}), encoding="utf-8")
    (raw / "c.txt").write_text(TEXT, encoding="utf-8")  # no gold: not copied
    return raw, gold


def test_every_variant_keeps_the_words_and_numbers_and_only_the_form_changes(tmp_path):
    raw, gold = _corpus(tmp_path)
    folders = write_variants(raw, gold, tmp_path / "out")
    assert set(folders) == {v.name for v in VARIANTS if v.default}
    assert json.loads((folders["html_p"] / "a.gold.json").read_text(encoding="utf-8"))["report"] == "a.html"
    one = sorted(p.name for p in folders["one_line"].iterdir())
    assert one == ["a.gold.json", "a.txt"]  # markdown is never flattened, c has no gold
    assert "\n" not in (folders["one_line"] / "a.txt").read_text(encoding="utf-8")
    assert (folders["gb18030_crlf"] / "a.txt").read_bytes().decode("gb18030") == TEXT.replace("\n", "\r\n")
    assert "１３５９" in (folders["fullwidth_digits"] / "b.md").read_text(encoding="utf-8")
    page = (folders["html_p"] / "a.html").read_text(encoding="utf-8")
    assert page.count("<p>") == TEXT.count("\n") + 1 and "1359" in page
    wrapped = (folders["wrapped"] / "a.txt").read_text(encoding="utf-8")
    assert wrapped.replace("\n", "") == TEXT.replace("\n", "") and "1359" in wrapped and "12.5" in wrapped
    assert not (raw / "a.html").exists() and sorted(p.name for p in raw.iterdir()) == ["a.txt", "b.md", "c.txt"]


def test_a_wrap_never_cuts_inside_a_number_nor_a_table_row():
    line = "全年共发布信息1234567890123，其中12.5万字和3,456条"
    parts = _wrap_line(line, 8)
    assert "".join(parts) == line
    assert not any(a[-1:].isdigit() and b[:1].isdigit() for a, b in zip(parts, parts[1:], strict=False))
    assert _wrap_line("| 行政许可 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |", 8) == ["| 行政许可 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |"]


def test_an_unknown_variant_is_one_line_exit_2(tmp_path):
    raw, gold = _corpus(tmp_path)
    result = CliRunner().invoke(app, ["eval", "variants", str(raw), "--gold", str(gold), "-o", str(tmp_path / "o"),
                                      "--variant", "sideways"])
    assert result.exit_code == 2 and "unknown variant(s): sideways" in result.output


@pytest.mark.slow
def test_the_dev_corpus_reads_the_same_in_every_form(shared_dir, tmp_path):
    dev = shared_dir / "reports" / "dev"
    result = CliRunner().invoke(app, ["eval", "variants", str(dev / "raw"), "--gold", str(dev / "gold"),
                                      "-o", str(tmp_path / "v"), "--json", "--fail-under",
                                      "cell_accuracy=0.999,meta_accuracy=1.0,finding_recall=1.0,"
                                      "false_positives=0,narrative_f1=0.98"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {v.name for v in VARIANTS if v.default}
    assert figures["one_line"]["reports"] >= 10 and figures["html_p"]["reports"] >= 14


@pytest.mark.slow
def test_a_real_html_report_printed_and_scanned_reads_as_the_page(shared_dir, tmp_path):
    """d04's page printed to PDF by Chromium (borders as filled paths, rows low on a page) and that print
    scanned back at 200 dpi (double rules, narrow columns, rules read as `|`): every labelled cell, no
    false flag. Only d04 is taken (six pages of OCR); `--variant printed_pdf --variant scanned_pdf` runs both."""
    dev = shared_dir / "reports" / "dev"
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "d04_pingtan_2023.html").symlink_to(dev / "raw" / "d04_pingtan_2023.html")
    result = CliRunner().invoke(app, ["eval", "variants", str(raw), "--gold", str(dev / "gold"),
                                      "-o", str(tmp_path / "v"), "--json", "--variant", "printed_pdf",
                                      "--variant", "scanned_pdf", "--fail-under",
                                      "cell_accuracy=1.0,meta_accuracy=1.0,finding_recall=1.0,false_positives=0"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {name: (f["reports"], f["cells_right"]) for name, f in figures.items()} == {
        "printed_pdf": (1, 200), "scanned_pdf": (1, 200)}

