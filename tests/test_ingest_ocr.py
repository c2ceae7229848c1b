"""Scans through offline OCR: rows rebuilt from boxes and rulings, boxes kept with page and confidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, load_gold
from PIL import Image, ImageDraw, ImageFont

from nianbao.app.pipeline import process_file
from nianbao.extract.ingest import IngestError, read_document

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SCAN_SEED = "004_6f1ea477f42cf686"


def _table_image(path: Path) -> None:
    """A small ruled table like table 二, slightly rotated, with a translucent red seal over a number."""
    font = ImageFont.truetype(str(FONT), 30)
    img = Image.new("RGB", (900, 420), "white")
    d = ImageDraw.Draw(img)
    d.text((40, 20), "二、主动公开政府信息情况", font=font, fill="black")
    xs, ys = [40, 420, 860], [90, 160, 230, 300, 370]
    for y in ys:
        d.line((xs[0], y, xs[-1], y), fill="black", width=3)
    for x in xs:
        d.line((x, ys[0], x, ys[-1]), fill="black", width=3)
    rows = [("信息内容", "本年处理决定数量"), ("行政许可", "550"), ("行政处罚", "4119"), ("行政强制", "195")]
    for (label, value), y in zip(rows, ys, strict=False):
        d.text((60, y + 15), label, font=font, fill="black")
        d.text((450, y + 15), value, font=font, fill="black")
    seal = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(seal).ellipse((560, 170, 760, 370), outline=(220, 30, 30, 150), width=10)
    img = Image.alpha_composite(img.convert("RGBA"), seal).convert("RGB")
    img.rotate(0.5, fillcolor="white").save(path)


@pytest.mark.slow
@pytest.mark.skipif(not FONT.is_file(), reason="fonts-noto-cjk is not installed")
def test_image_table_comes_out_as_rows_with_boxes(tmp_path):
    path = tmp_path / "scan.png"
    _table_image(path)
    doc = read_document(path)
    assert doc.kind == "scan"
    lines = doc.text.splitlines()
    assert "行政许可\t550" in lines
    assert "行政处罚\t4119" in lines
    assert "行政强制\t195" in lines
    pos = doc.text.index("4119")
    box = doc.box_at(pos)
    assert box is not None and box.page == 1 and box.confidence is not None and 0 < box.confidence <= 1
    x0, top, x1, bottom = box.bbox
    assert 420 < x0 < x1 < 860 and 225 < top < bottom < 310  # where it was drawn, in image pixels


def test_image_without_text_is_one_line(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(path)
    with pytest.raises(IngestError, match="no text found") as err:
        read_document(path)
    assert "blank.png" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_scanned_seed_reaches_gold_and_keeps_provenance():
    ex = process_file(FIXTURES / "docs" / f"{SCAN_SEED}.scan.pdf")
    gold = load_gold(SCAN_SEED)["cells"]
    right = [k for k, v in gold.items() if ex.values().get(k) == v]
    assert len(right) / len(gold) >= 0.99, [k for k in gold if k not in right]
    prov = ex.to_contract()["provenance"]["t3.new_received.total"]
    assert prov["page"] >= 1 and len(prov["bbox"]) == 4
    assert 0 < prov["confidence"] <= 1


def _word_box(x0: float, x1: float, y0: float = 100, y1: float = 120) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_a_table_rule_read_as_a_bar_is_the_rule_not_a_one():
    """d04 printed and scanned: OCR read the cell's left rule as `|` before 77, and the parser took it
    for a 1 (177). A bar glyph standing on a detected vertical rule is that rule; elsewhere it stays."""
    from nianbao.extract.ingest.ocr import _tokens

    rule = [(150.0, 80.0, 150.0, 140.0)]
    line = (_word_box(148, 152) + _word_box(160, 190), "| 77", 0.9,
            [_word_box(148, 152), _word_box(160, 190)], ["|", "77"], [0.5, 0.95])
    assert [t.text for t in _tokens([line], rule)] == ["77"]
    assert [t.text for t in _tokens([line], [(300.0, 80.0, 300.0, 140.0)])] == ["|77"]
    alone = (_word_box(148, 152), "|", 0.5, [_word_box(148, 152)], ["|"], [0.5])
    assert _tokens([alone], rule) == []
