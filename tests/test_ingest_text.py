"""Plain-text ingest: encodings, normalisation, furniture, markup, offsets, bad files."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from nianbao.extract import IngestError, read_document
from nianbao.extract.ingest import text as ingest_text
from nianbao.extract.ingest.normalise import normalise

REPORT = (
    "临夏县马集镇2025年政府信息公开工作年度报告\n"
    "一、总体情况\n"
    "全年通过门户网站发布信息28条，其中规范性文件3件。\n"
    "一、本年新收政府信息公开申请数量\t6\t0\t0\t0\t0\t0\t6\n"
    "自然人 | 法人或其他组织 | 总计\n"
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _assert_unchanged_chars_map_back(doc) -> None:
    assert len(doc.offsets) == len(doc.text) + 1
    assert doc.offsets == sorted(doc.offsets), "offsets must follow the source order"
    for i, ch in enumerate(doc.text):
        src = doc.source[doc.offsets[i]]
        if src in "\r\n" and ch == "\n":
            continue
        if ch.isascii() and not src.isascii():  # a full-width form turned ASCII
            assert ord(src) - 0xFEE0 == ord(ch) or src.isspace(), (i, ch, src)
            continue
        if ch == " " and src.isspace():
            continue
        assert src == ch, (i, ch, src)


@pytest.mark.parametrize(("encoding", "data", "expected_encoding"), [
    ("utf-8", REPORT.encode("utf-8"), "utf-8"),
    ("utf-8-bom", b"\xef\xbb\xbf" + REPORT.encode("utf-8"), "utf-8-sig"),
    ("gb18030", REPORT.encode("gb18030"), "gb18030"),
    ("gbk", REPORT.encode("gbk"), "gb18030"),
    ("utf-16-le-bom", b"\xff\xfe" + REPORT.encode("utf-16-le"), "utf-16-le"),
    ("utf-16-be-bom", b"\xfe\xff" + REPORT.encode("utf-16-be"), "utf-16-be"),
    ("utf-16-le-no-bom", REPORT.encode("utf-16-le"), "utf-16-le"),
    ("utf-16-be-no-bom", REPORT.encode("utf-16-be"), "utf-16-be"),
])
def test_each_encoding_decodes_to_the_same_text(tmp_path, encoding, data, expected_encoding):
    doc = read_document(_write(tmp_path, f"report-{encoding}.txt", data))
    assert doc.text == REPORT
    assert doc.source == REPORT  # the decoded original, without its BOM
    assert doc.encoding == expected_encoding
    assert doc.kind == "txt"
    _assert_unchanged_chars_map_back(doc)


def test_markdown_kind_and_heading_kept(tmp_path):
    doc = read_document(_write(tmp_path, "r.md", "#### 一、总体情况\n发布信息１２条\n".encode()))
    assert doc.kind == "md"
    assert doc.text == "#### 一、总体情况\n发布信息12条\n"


def test_fullwidth_digits_letters_and_number_punctuation_become_ascii_but_chinese_punctuation_stays():
    src = "发布信息１２３条（其中：占５０．５％），文号ＡＢ／２０２３，１＋２＝３；“政策解读”《条例》、\u3000完"
    out = normalise(src)
    assert out.text == "发布信息123条（其中：占50.5%），文号AB/2023，1+2=3；“政策解读”《条例》、 完"
    assert len(out.text) == len(src) and out.offsets[:-1] == list(range(len(src)))


def test_crlf_zero_width_and_nbsp():
    src = "一、总体\u200b情况\r\n发布\u00a0信息\ufeff12条\r\n"
    out = normalise(src)
    assert out.text == "一、总体情况\n发布 信息12条\n"
    assert src[out.offsets[out.text.index("12")]:].startswith("12")
    assert src[out.offsets[out.text.index("情")]] == "情"


@pytest.mark.parametrize("furniture", ["— 3 —", "- 3 -", "－３－", "·3·", "第 3 页 共 5 页", "第3页", "共5页 第3页", "  第 12 页  "])
def test_page_furniture_lines_are_removed(furniture):
    src = f"发布信息28条。\n{furniture}\n其中规范性文件3件。\n"
    out = normalise(src)
    assert out.text == "发布信息28条。\n其中规范性文件3件。\n"
    second = out.text.index("其中")
    assert src[out.offsets[second]:].startswith("其中规范性文件3件")


def test_furniture_inside_a_line_or_a_table_row_is_left_alone():
    src = "详见第3页。\n行政处罚\t-\t3\t-\n"
    assert normalise(src).text == src


def test_lone_page_numbers_counting_up_are_removed_but_one_cell_per_line_numbers_stay():
    prose = "本年度我镇认真落实政务公开工作要求，完善制度。\n"
    src = (prose + "\n1\n\n" + prose * 3 + "\n2\n\n" + prose
           + "一、本年新收政府信息公开申请数量\n\n3\n\n0\n\n0\n\n二、上年结转政府信息公开申请数量\n\n4\n\n"
           + prose + "\n3\n\n" + prose)
    text = normalise(src).text
    lines = [ln for ln in text.split("\n") if ln.strip()]
    assert "1" not in lines and "2" not in lines
    # the table cells printed one per line survive, including the 3 and 4 between labels
    assert lines.count("3") == 1 and lines.count("0") == 2 and lines.count("4") == 1
    assert lines[-3:] == ["4", prose.strip(), prose.strip()]  # the trailing page number 3 is gone


def test_stray_markup_removed_and_both_digits_kept():
    src = ("行政强制\t<b>7</b> 政强制 <b>0</b>\t\t\n<span style=\"color:red\">发布信息</span>&nbsp;12&amp;条</p>"
           "<!-- [if gte mso 9]>\n<xml>x</xml> -->\n")
    out = normalise(src)
    assert out.text == "行政强制\t7 政强制 0\t\t\n发布信息 12&条\n"
    for digit in ("7", "0", "12"):
        i = out.text.index(digit)
        assert src[out.offsets[i]] == digit[0]
    assert src[out.offsets[out.text.index("&")]:].startswith("&amp;")


def test_paragraph_tags_inside_a_line_split_it_without_joining_anything():
    out = normalise("<p>一、总体情况</p><p>发布信息12条</p>\n第二行")
    assert out.text.split("\n")[0] == "一、总体情况"
    assert "发布信息12条" in out.text.split("\n")
    assert out.text.endswith("\n第二行")


def test_angle_brackets_that_are_not_markup_stay():
    src = "结转下年度<5件，x<y 且 y>z，<不是>，<bx>，<p2>\n"
    assert normalise(src).text == src


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_truncated_utf8_is_read_with_the_damaged_character_replaced(tmp_path, bom):
    data = bom + REPORT.encode("utf-8") + "情".encode()[:2]
    doc = read_document(_write(tmp_path, "cut.txt", data))
    assert doc.text.startswith(REPORT) and doc.text.endswith("\ufffd")
    assert "damaged" in (doc.encoding or "")


def test_truncated_utf16_keeps_its_text(tmp_path):
    doc = read_document(_write(tmp_path, "cut16.txt", b"\xff\xfe" + REPORT.encode("utf-16-le") + b"\x3d"))
    assert doc.text.rstrip("\ufffd") == REPORT and doc.encoding == "utf-16-le (damaged bytes replaced)"


def test_a_bom_followed_by_garbage_is_refused(tmp_path):
    with pytest.raises(IngestError) as e:
        read_document(_write(tmp_path, "fake.txt", b"\xef\xbb\xbf" + b"\xff\xc0\x80" * 400))
    assert "fake.txt" in str(e.value) and "byte-order mark" in str(e.value)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", b"", "empty"),
    ("blank.txt", b" \r\n\t\n", "empty"),
    ("bom-only.txt", b"\xef\xbb\xbf\n", "no text"),
    ("random.txt", random.Random(7).randbytes(4096), "binary"),
    ("controls.txt", bytes(random.Random(8).choices(range(1, 9), k=800)), "binary"),
    ("undecodable.txt", b"\x80\xff".join(w.encode() for w in REPORT.split("、")) * 20, "cannot be decoded"),
])
def test_bad_files_raise_one_line_naming_the_file(tmp_path, name, data, reason):
    path = _write(tmp_path, name, data)
    with pytest.raises(IngestError) as e:
        read_document(path)
    message = str(e.value)
    assert name in message and reason in message
    assert "\n" not in message


def test_png_bytes_in_a_txt_file_are_refused_by_every_route(tmp_path):
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x00" + random.Random(3).randbytes(600)
    path = _write(tmp_path, "scan.txt", data)
    with pytest.raises(IngestError) as direct:
        ingest_text.read(path, data)
    assert "scan.txt" in str(direct.value) and "binary" in str(direct.value)
    with pytest.raises(IngestError) as routed:
        read_document(path)
    assert "scan.txt" in str(routed.value) and "\n" not in str(routed.value)


def _rows(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if "\t" in ln or "|" in ln]


def test_seed_reports_keep_every_table_row_intact(shared_dir):
    seeds = sorted((shared_dir / "seeds").glob("*.txt"))
    assert seeds
    for path in seeds:
        doc = read_document(path)
        source_rows = _rows(doc.source)
        text_rows = _rows(doc.text)
        assert len(text_rows) == len(source_rows), path.name
        for src, got in zip(source_rows, text_rows, strict=True):
            assert got.count("\t") == src.count("\t") and got.count("|") == src.count("|"), (path.name, src)
            assert re.findall(r"\d+", got) == re.findall(r"\d+", re.sub(r"<[^>]+>", "", src)), (path.name, src)
        _assert_unchanged_chars_map_back(doc)


def test_br_inside_a_pipe_row_joins_words_of_one_cell_instead_of_splitting_the_row():
    src = "| 三、本年度办理结果<br>（一）予以公开 | 5 | 0 |\n第一段<br/>第二段\n"
    assert normalise(src).text == "| 三、本年度办理结果 （一）予以公开 | 5 | 0 |\n第一段\n第二段\n"


def _fullwidth_digits(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


def _with_furniture(text: str) -> str:
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 15 == 14 and i < len(lines) - 1:
            out.append(f"— {i // 15 + 1} —" if i % 2 else f"第 {i // 15 + 1} 页 共 9 页")
    return "\n".join(out)


VARIANTS = {
    "gb18030-crlf": lambda s: s.replace("\n", "\r\n").encode("gb18030"),
    "utf-16-le-no-bom": lambda s: s.encode("utf-16-le"),
    "utf-16-be-bom-crlf": lambda s: b"\xfe\xff" + s.replace("\n", "\r\n").encode("utf-16-be"),
    "utf-8-bom-fullwidth-digits": lambda s: b"\xef\xbb\xbf" + _fullwidth_digits(s).encode(),
    "utf-8-page-furniture": lambda s: _with_furniture(s).encode(),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_seed_reports_saved_other_ways_read_to_the_same_text(tmp_path, shared_dir, variant):
    for seed in sorted((shared_dir / "seeds").glob("*.txt")):
        original = read_document(seed)
        data = VARIANTS[variant](original.source)
        doc = read_document(_write(tmp_path, seed.name, data))
        assert doc.text == original.text, (seed.name, variant)
        _assert_unchanged_chars_map_back(doc)


@pytest.mark.slow
def test_one_huge_line_of_markup_is_normalised_in_linear_time():
    import time

    src = "<p>发布信息<b>12</b>条</p>" * 40000  # a crawler's one-line dump; quadratic would take minutes
    started = time.perf_counter()
    out = normalise(src)
    assert time.perf_counter() - started < 15
    assert out.text.split("\n")[:2] == ["发布信息12条", "发布信息12条"] and out.text.count("\n") == 39999


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_of_almost_only_chinese_is_recognised(tmp_path, encoding):
    # 一 is U+4E00: its NUL byte sits on the other side of the pair from an ASCII character's
    text = "一、总体情况\n" + "一是加强组织领导，二是完善制度建设。" * 20 + "\n"
    doc = read_document(_write(tmp_path, "cjk16.txt", text.encode(encoding)))
    assert doc.text == text and doc.encoding == encoding


def test_nul_padding_after_the_text_is_not_binary(tmp_path):
    doc = read_document(_write(tmp_path, "padded.txt", REPORT.encode("gb18030") + b"\x00" * 300))
    assert doc.text == REPORT and doc.encoding == "gb18030"


def test_stray_cell_and_row_tags_keep_cells_apart():
    src = "二、主动公开\n<tr><td>规章</td><td>0</td><td>1</td></tr><tr><td>行政规范性文件</td><td>3<br>件</td></tr>\n"
    assert normalise(src).text == "二、主动公开\n规章\t0\t1\n行政规范性文件\t3 件\n"
