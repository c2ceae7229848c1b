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


def test_a_double_bordered_table_with_narrow_columns_is_one_grid():
    """d02 printed and scanned: an HTML border="1" table boxes every cell on its own, so two rules a few
    pixels apart part neighbouring cells, and a narrow column's rules are short. Read as they were,
    the narrow columns had no rules and the table fell apart into column blocks (22/200 cells)."""
    import numpy as np

    from nianbao.extract.ingest.layout import find_grids
    from nianbao.extract.ingest.ocr import find_rulings

    xs, ys = [50, 300, 350, 400, 700], [50, 100, 150, 200]
    image = Image.new("L", (760, 260), 255)
    draw = ImageDraw.Draw(image)
    for x0, x1 in zip(xs, xs[1:], strict=False):
        for y0, y1 in zip(ys, ys[1:], strict=False):
            draw.rectangle((x0 + 3, y0 + 3, x1 - 3, y1 - 3), outline=120, width=2)
    edges = find_rulings(np.array(image), 30.0)
    verticals = sorted({round(e[0]) for e in edges if e[2] - e[0] < e[3] - e[1]})
    horizontals = sorted({round(e[1]) for e in edges if e[2] - e[0] >= e[3] - e[1]})
    assert len(verticals) == len(xs) and all(abs(v - x) <= 4 for v, x in zip(verticals, xs, strict=True))
    assert len(horizontals) == len(ys) and all(abs(h - y) <= 4 for h, y in zip(horizontals, ys, strict=True))
    grids, _ = find_grids(edges, 5.0)
    assert [len(g) for g in grids] == [(len(xs) - 1) * (len(ys) - 1)]


def test_a_title_stroke_inside_its_line_is_no_rule():
    """Rules as short as a narrow column's are longer than a big title's strokes (seed 004's title 政府
    split into cells); a run inside a line of text OCR found is a stroke, a run between lines a rule."""
    import numpy as np

    from nianbao.extract.ingest.ocr import find_rulings

    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 52, 160, 54), fill=0)  # a stroke of a large title glyph, near its line's top
    draw.rectangle((100, 150, 160, 151), fill=100)  # a rule under a narrow cell
    title_line = [(90.0, 48.0, 300.0, 100.0)]
    found = [e[1] for e in find_rulings(np.array(image), 40.0, title_line)]
    assert len(found) == 1 and 149 <= found[0] <= 152
    assert [50 <= y <= 56 or 149 <= y <= 152 for y in sorted(e[1] for e in find_rulings(np.array(image), 40.0))] \
        == [True, True]


def test_characters_a_column_apart_are_separate_tokens():
    """d04 printed with no table borders and scanned: OCR read the row `19 1 0 0` as one line `19100`.
    Characters further apart than most of a line's height are separate tokens (the layout then
    parts them with a space or a TAB); characters of one number or one phrase stay together."""
    from nianbao.extract.ingest.ocr import _tokens

    chars = [("1", 100, 105), ("9", 106, 111), ("1", 125, 128), ("0", 146, 151), ("共", 160, 170), ("计", 171, 181)]
    words = [_word_box(x0, x1, 100, 110) for _, x0, x1 in chars]
    line = (_word_box(100, 181, 100, 110), "1910共计", 0.9, words, [c for c, _, _ in chars], [0.9] * len(chars))
    assert [t.text for t in _tokens([line], [])] == ["19", "1", "0", "共计"]
