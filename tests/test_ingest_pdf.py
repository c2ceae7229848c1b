"""Text PDFs: table rows rebuilt from rulings and positions, page furniture removed, breaks joined."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, load_gold, seed_names

from nianbao.app.pipeline import process_file
from nianbao.extract.ingest import IngestError, read_document
from nianbao.extract.ingest.layout import PageInput, Token, build
from nianbao.rules.registry import RULE_MODULES

DOCS = FIXTURES / "docs"
REAL = ["huaian_shi_2024", "huaian_hongzequ_2023", "huaian_hongzequ_2024"]


# ---------------------------------------------------------------- layout on synthetic pages

def _grid(x_edges: list[float], y_edges: list[float], skip: set[tuple[int, int]] = frozenset()):
    """Rulings of a grid; `skip` removes the horizontal rule segment (row line, column)."""
    edges = []
    for i, y in enumerate(y_edges):
        for c in range(len(x_edges) - 1):
            if (i, c) not in skip:
                edges.append((x_edges[c], y, x_edges[c + 1], y))
    for x in x_edges:
        edges.append((x, y_edges[0], x, y_edges[-1]))
    return edges


def _word(text: str, x: float, y: float) -> list[Token]:
    return [Token(ch, x + 10 * i, y, x + 10 * (i + 1), y + 10) for i, ch in enumerate(text)]


def _page(number: int, rows: list[list[tuple[str, float]]], y_edges: list[float], skip=frozenset(),
          extra: list[Token] = ()) -> PageInput:
    xs = [50, 200, 300, 400]
    tokens = [t for r, row in enumerate(rows) for text, x in row for t in _word(text, x, y_edges[r] + 5)]
    return PageInput(number, 595, 842, tokens + list(extra), _grid(xs, y_edges, skip))


def test_label_split_by_a_page_break_is_rejoined_and_complete_rows_stay_apart():
    # page 1: "（四）无" groups one row at the page's foot; page 2: "法提供" groups the next two rows
    p1 = _page(1, [[("规章", 55), ("0", 205), ("0", 305)], [("（四）无", 55), ("1.不掌握", 205), ("3", 305)]],
               [700, 720, 740])
    p2 = _page(2, [[("法提供", 55), ("2.另行制作", 205), ("1", 305)], [("", 55), ("3.不明确", 205), ("0", 305)]],
               [80, 100, 120], skip={(1, 0)})
    text = build([p1, p2], "t.pdf", "pdf", "").text
    lines = [ln for ln in text.splitlines() if ln]
    assert lines == ["规章\t0\t0", "（四）无法提供\t1.不掌握\t3", "\t2.另行制作\t1", "\t3.不明确\t0"]


def test_two_complete_rows_across_a_break_are_not_merged():
    p1 = _page(1, [[("规章", 55), ("0", 205), ("0", 305)]], [700, 720])
    p2 = _page(2, [[("行政规范性文件", 55), ("0", 205), ("2", 305)]], [80, 100])
    lines = [ln for ln in build([p1, p2], "t.pdf", "pdf", "").text.splitlines() if ln]
    assert lines == ["规章\t0\t0", "行政规范性文件\t0\t2"]


def test_page_numbers_go_and_wrapped_prose_is_one_paragraph():
    prose1 = _word("一、总体情况", 70, 100) + _word("全年共发布信息一千三百五十九条其中", 50, 130)
    prose1 += _word("网站发布八百零六条。", 50, 145) + _word("-1-", 280, 800)
    prose2 = _word("二、主动公开", 70, 100) + _word("-2-", 280, 800)
    pages = [PageInput(1, 595, 842, prose1), PageInput(2, 595, 842, prose2)]
    doc = build(pages, "t.pdf", "pdf", "")
    assert doc.text.splitlines() == ["一、总体情况", "全年共发布信息一千三百五十九条其中网站发布八百零六条。", "二、主动公开"]
    assert doc.page_of(doc.text.index("二、")) == 2
    box = doc.box_at(doc.text.index("网站"))
    assert box is not None and box.page == 1 and box.bbox[1] == pytest.approx(145)


def test_a_table_row_low_on_the_page_is_no_page_number():
    """d04 printed by a browser: the row `19 1 0 0 0 0 20` stood in the bottom margin, below its label's first
    line and above its second. Page numbers (shape #) on every page made its shape (all digits) look like
    theirs, and the row was dropped. A row of numbers apart is not a page number, nor is a line with more
    of the page below it; the page's last line, `3`, still is."""
    pages = []
    for n in (1, 2, 3):
        tokens = _word("二、主动公开情况", 70, 100) + _word(str(n), 290, 800)
        if n == 2:
            tokens += _word("（二）部分公开", 50, 735) + _word("19 1 0 0 0 0 20", 300, 745)
            tokens += _word("其他情形）", 50, 760) + _word("7", 300, 775)  # a one-cell-per-line value, low too
        pages.append(PageInput(n, 595, 842, tokens))
    text = build(pages, "t.pdf", "pdf", "").text
    assert "19 1 0 0 0 0 20" in text and "\n7\n" in text
    assert [ln for ln in text.splitlines() if ln.strip() in ("1", "2", "3")] == []


def test_a_browser_prints_table_borders_as_thin_filled_paths():
    """Chromium draws border="1" cells as bevelled filled paths (pdfplumber's curves), not rectangles."""
    from types import SimpleNamespace

    from nianbao.extract.ingest.pdf import _edges

    grey = (0.33, 0.33, 0.33)
    curves = [{"x0": 50, "top": 100, "x1": 400, "bottom": 100.7, "fill": True, "non_stroking_color": grey},
              {"x0": 50, "top": 100, "x1": 50.7, "bottom": 300, "fill": True, "non_stroking_color": grey},
              {"x0": 60, "top": 120, "x1": 90, "bottom": 150, "fill": True, "non_stroking_color": grey},  # a glyph
              {"x0": 50, "top": 300, "x1": 400, "bottom": 300.7, "fill": True, "non_stroking_color": (1, 1, 1)}]
    page = SimpleNamespace(lines=[], rects=[], curves=curves)
    assert _edges(page) == [(50, 100, 400, 100.7), (50, 100, 50.7, 300)]


def test_unruled_table_row_splits_at_wide_gaps():
    tokens = _word("行政许可", 50, 100) + _word("550", 300, 100) + _word("12", 420, 100)
    doc = build([PageInput(1, 595, 842, tokens)], "t.pdf", "pdf", "")
    assert doc.text.splitlines() == ["行政许可\t550\t12"]


# ---------------------------------------------------------------- real published PDFs

@pytest.mark.slow
@pytest.mark.parametrize("stem", REAL)
def test_real_pdf_reaches_gold_cells(shared_dir, stem):
    pdf_dir = shared_dir / "reports" / "pdf"
    gold = json.loads((pdf_dir / f"{stem}.gold.json").read_text(encoding="utf-8"))
    ex = process_file(pdf_dir / f"{stem}.pdf")
    skip = set(gold.get("uncertain") or [])
    keys = [k for k in gold["cells"] if k not in skip]
    right = sum(ex.values().get(k) == gold["cells"][k] for k in keys)
    assert right / len(keys) >= 0.995, [k for k in keys if ex.values().get(k) != gold["cells"][k]]


@pytest.mark.slow
def test_real_pdf_text_layout(shared_dir):
    doc = read_document(shared_dir / "reports" / "pdf" / "huaian_shi_2024.pdf")
    lines = doc.text.splitlines()
    assert not any(ln.strip() in {"-1-", "-2-", "1", "2"} for ln in lines)  # page numbers removed
    row = next(ln for ln in lines if ln.startswith("一、本年新收")).split("\t")
    assert [c for c in row[1:] if c] == ["3001", "53", "0", "0", "61", "4", "3119"]
    assert any("\t（四）无法提供\t1.本机关不掌握相关政府信息\t" in ln for ln in lines)  # split by the page break
    assert not any(ln.startswith("\t法提供") for ln in lines)
    fee = doc.text.index("96171.6")
    assert doc.box_at(fee).page == doc.page_of(fee)


@pytest.mark.slow
@pytest.mark.skipif(not RULE_MODULES, reason="no rule modules registered yet")
def test_real_pdf_expected_findings(shared_dir):
    pdf_dir = shared_dir / "reports" / "pdf"
    gold = json.loads((pdf_dir / "huaian_hongzequ_2023.gold.json").read_text(encoding="utf-8"))
    ex = process_file(pdf_dir / "huaian_hongzequ_2023.pdf")
    for expected in gold["findings"]["expected"]:
        assert any(f.category == expected["category"] and set(expected["keys"]) & set(f.keys)
                   for f in ex.findings), expected["note"]


# ---------------------------------------------------------------- seeds rendered as text PDFs

@pytest.mark.slow
@pytest.mark.parametrize("name", seed_names())
def test_seed_pdf_extracts_exactly_the_gold_cells(name):
    ex = process_file(DOCS / f"{name}.pdf")
    gold = load_gold(name)["cells"]
    assert {k: ex.values().get(k) for k in gold} == gold


# ---------------------------------------------------------------- files that are not readable PDFs

def encrypted_pdf() -> bytes:
    """A minimal PDF whose Standard security handler refuses the empty password."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"41" * 32 + b"> /U <" + b"42" * 32 + b"> /P -4 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n" % (
        len(objs) + 1, b"ab" * 16, b"ab" * 16)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_encrypted_pdf_says_so(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf())
    with pytest.raises(IngestError, match="encrypted") as err:
        read_document(path)
    assert "locked.pdf" in str(err.value) and "\n" not in str(err.value)


def test_corrupt_pdf_is_one_line(tmp_path):
    path = tmp_path / "torn.pdf"
    path.write_bytes((DOCS / f"{seed_names()[0]}.pdf").read_bytes()[:3000])
    with pytest.raises(IngestError) as err:
        read_document(path)
    assert "torn.pdf" in str(err.value) and "\n" not in str(err.value)
