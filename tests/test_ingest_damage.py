"""Forgiving decode (issue 11 item 6): a handful of damaged bytes in a text report are replaced,
and the report says where (a finding with the byte offsets and the text spans), instead of the
whole report being refused. Only when damage passes the limit is the file refused."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import EXAMPLES

from nianbao.app.pipeline import process_file
from nianbao.extract import IngestError, read_document
from nianbao.extract.ingest.limits import damage_allowance

SEEDS = sorted(EXAMPLES.glob("*.txt"))


def _damage(data: bytes, n: int, seed: int) -> tuple[bytes, list[int]]:
    """n non-ASCII bytes replaced by 0xFF (which starts no character in UTF-8 or GBK)."""
    rng = random.Random(seed)
    out = bytearray(data)
    places = sorted(rng.sample([i for i, b in enumerate(out) if b >= 0x80], n))
    for i in places:
        out[i] = 0xFF
    return bytes(out), places


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(("encoding", "flips"), [("utf-8", 3), ("gbk", 5)])
def test_a_few_damaged_bytes_are_replaced_and_reported_where_they_are(tmp_path, seed, encoding, flips):
    original = SEEDS[seed % len(SEEDS)].read_text("utf-8")
    data, places = _damage(original.encode(encoding), flips, seed)
    path, clean = tmp_path / "damaged.txt", tmp_path / "clean.txt"
    path.write_bytes(data)
    clean.write_bytes(original.encode(encoding))
    doc, undamaged = read_document(path), read_document(clean)
    assert doc.encoding.endswith("(damaged bytes replaced)")
    (note,) = doc.notes
    assert note.kind == "damaged_bytes" and note.category == "ocr"
    # every damaged byte is named (grouped with the bytes of its broken character)
    for b in places:
        assert any(f"{a}–" in note.message or f"{a}、" in note.message or f"{a}）" in note.message
                   for a in range(b - 3, b + 1)), (b, note.message)
    # one U+FFFD for each damaged character, and everything else is the report as written
    assert len(note.spans) == flips and all(e - s == 1 and doc.text[s] == "\ufffd" for s, e in note.spans)
    assert len(doc.text) == len(undamaged.text)
    damaged_at = {s for s, _ in note.spans}
    assert all(a == b for i, (a, b) in enumerate(zip(doc.text, undamaged.text, strict=True)) if i not in damaged_at)


def test_the_finding_says_it_in_the_output(tmp_path):
    data, _ = _damage(SEEDS[4].read_bytes(), 3, 1)
    path = tmp_path / "damaged.txt"
    path.write_bytes(data)
    ex = process_file(path)
    (finding,) = [f for f in ex.findings if f.rule == "ingest.damaged_bytes"]
    assert finding.category == "ocr" and finding.severity == "warning"
    assert "字节偏移" in finding.message and "请对照原件核对" in finding.message
    assert finding.spans and all(ex_text == "\ufffd" for ex_text in
                                 (read_document(path).text[s.start:s.start + 1] for s in finding.spans))
    assert sum(v is not None for v in ex.values().values()) >= 150  # the tables were still read


def test_a_nul_byte_inside_the_text_is_damage_not_a_binary_file(tmp_path):
    data = bytearray(SEEDS[0].read_bytes())
    at = data.index("总体情况".encode())
    data[at] = 0
    path = tmp_path / "nul.txt"
    path.write_bytes(bytes(data))
    doc = read_document(path)
    assert "\x00" not in doc.text
    (note,) = doc.notes
    assert f"{at}" in note.message


def test_damage_beyond_the_limit_is_refused_with_one_line(tmp_path):
    data = SEEDS[0].read_bytes()
    damaged, _ = _damage(data, damage_allowance(len(data)) + 10, 3)
    path = tmp_path / "ruined.txt"
    path.write_bytes(damaged)
    with pytest.raises(IngestError) as e:
        read_document(path)
    assert "ruined.txt" in str(e.value) and "cannot be decoded" in str(e.value) and "\n" not in str(e.value)


def test_a_damaged_html_page_is_read_and_noted_too(tmp_path):
    page = "<html><head><meta charset='gbk'></head><body><p>一、总体情况</p><p>发布信息12条。</p></body></html>"
    data = bytearray(page.encode("gbk"))
    at = data.index("总".encode("gbk"))
    data[at] = 0xFF
    path = Path(tmp_path / "page.html")
    path.write_bytes(bytes(data))
    doc = read_document(path)
    assert "发布信息12条。" in doc.text
    (note,) = doc.notes
    (span,) = note.spans
    assert doc.text[span[0]] == "\ufffd" and doc.source[doc.offsets[span[0]]] == "\ufffd"
