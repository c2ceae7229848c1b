"""HTML ingest: encodings, furniture, spans expanded as a text copy shows them, nested tables, offsets."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from conftest import FIXTURES
from gold_pages import STYLES, report_page, seed_page

from nianbao.extract import IngestError, read_document
from nianbao.extract.ingest.html import declared_charset

COLUMNS = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
RESULT_ROWS = [  # (sub-row label or None, row label, values)
    ("（一）予以公开", None, [5, 0, 0, 0, 0, 0, 5]),
    ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", None, [0] * 7),
    ("（三）不予公开", "1.属于国家秘密", [0] * 7),
    (None, "2.其他法律行政法规禁止公开", [0] * 7),
    (None, "3.危及“三安全一稳定”", [1, 0, 0, 0, 0, 0, 1]),
    ("（七）总计", None, [6, 0, 0, 0, 0, 0, 6]),
]


def table_three() -> str:
    """Table 三 as government sites publish it: a 3-column label block, spans everywhere."""
    td = "".join
    rows = [
        '<tr><td colspan="3" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，<br>等于第三项加第四项之和）</td>'
        '<td colspan="7">申请人情况</td></tr>',
        '<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>',
        "<tr>" + td(f"<td><p>{c[:2]}</p><p>{c[2:]}</p></td>" for c in COLUMNS) + "</tr>",
        '<tr><td colspan="3">一、本年新收政府信息公开申请数量</td>'
        + td(f"<td>{v}</td>" for v in [6, 0, 0, 0, 0, 0, 6]) + "</tr>",
        '<tr><td colspan="3">二、上年结转政府信息公开申请数量</td>' + td("<td>0</td>" for _ in range(7)) + "</tr>",
    ]
    first = True
    for sub, label, values in RESULT_ROWS:
        cells = ""
        if first:
            cells += f'<td rowspan="{len(RESULT_ROWS)}">三、本年度办理结果</td>'
            first = False
        if sub and label:
            cells += f'<td rowspan="3">{sub}</td><td>{label}</td>'
        elif sub:
            cells += f'<td colspan="2">{sub}</td>'
        else:
            cells += f"<td>{label}</td>"
        cells += td(f"<td>{v}</td>" for v in values)
        rows.append(f"<tr>{cells}</tr>")
    rows.append('<tr><td colspan="3">四、结转下年度继续办理</td>' + td("<td>&nbsp;</td>" for _ in range(7)) + "</tr>")
    return '<table border="1" cellspacing="0">\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>"


def page(body: str, head: str = '<meta charset="utf-8">') -> str:
    return (f"<!DOCTYPE html>\n<html><head>{head}<title>某县政府门户网站</title>"
            "<style>td { color: red }</style><script>var x = '<td>9</td>';</script></head>\n<body>\n"
            f"<nav><a href='/'>首页</a> | <a href='/x'>政务公开</a></nav>\n{body}\n"
            "<footer>主办：某县人民政府办公室</footer></body></html>")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _table_lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.split("\n") if "\t" in line]


def _assert_offsets_point_at_their_characters(doc) -> None:
    assert len(doc.offsets) == len(doc.text) + 1
    for i, ch in enumerate(doc.text):
        if ch.isspace():
            continue
        src = doc.source[doc.offsets[i]]
        if src == "&":  # an entity
            decoded = html.unescape(doc.source[doc.offsets[i]:doc.offsets[i] + 10].split(";")[0] + ";")
            assert decoded == ch or ord(decoded) - 0xFEE0 == ord(ch), (i, ch, decoded)
        elif ch.isascii() and not src.isascii():  # full-width turned ASCII
            assert ord(src) - 0xFEE0 == ord(ch)
        else:
            assert src == ch, (i, ch, doc.source[doc.offsets[i] - 10: doc.offsets[i] + 10])


def test_table_three_with_rowspan_and_colspan_renders_as_a_text_copy(tmp_path):
    body = "<h1>某镇2023年政府信息公开工作年度报告</h1>\n<p>三、收到和处理政府信息公开申请情况</p>\n" + table_three()
    doc = read_document(_write(tmp_path, "r.html", page(body).encode("utf-8")))
    assert doc.kind == "html"
    rows = _table_lines(doc.text)
    assert len(rows) == 5 + len(RESULT_ROWS) + 1
    assert {len(r) for r in rows} == {10}, "every row has the same number of positions"
    header = rows[0]
    assert header[0].startswith("（本列数据的勾稽关系为") and "之和， 等于" in header[0]  # <br> became a space
    assert header[1:3] == ["", ""] and header[3] == "申请人情况" and header[4:] == [""] * 6
    assert rows[1] == ["", "", "", "自然人", "法人或其他组织", "", "", "", "", "总计"]
    assert rows[2] == ["", "", "", "", "商业 企业", "科研 机构", "社会 公益组织", "法律 服务机构", "其他", ""]
    assert rows[3] == ["一、本年新收政府信息公开申请数量", "", "", "6", "0", "0", "0", "0", "0", "6"]
    result = rows[5:5 + len(RESULT_ROWS)]
    assert [r[0] for r in result] == ["三、本年度办理结果"] + [""] * (len(RESULT_ROWS) - 1)
    assert result[0][1:3] == ["（一）予以公开", ""]
    assert result[2][1:3] == ["（三）不予公开", "1.属于国家秘密"]
    assert result[3][1:3] == ["", "2.其他法律行政法规禁止公开"]
    assert result[4][1:] == ["", "3.危及“三安全一稳定”", "1", "0", "0", "0", "0", "0", "1"]
    assert result[5][1:3] == ["（七）总计", ""] and result[5][3:] == ["6", "0", "0", "0", "0", "0", "6"]
    assert rows[-1] == ["四、结转下年度继续办理", "", ""] + [""] * 7  # &nbsp; cells are empty
    _assert_offsets_point_at_their_characters(doc)


def test_furniture_dropped_and_blocks_become_lines(tmp_path):
    body = ("<div class='content'><h2>一、总体情况</h2><p>全年发布信息<b>１２</b>条，<span>其中</span>政策解读3篇。</p>"
            "<p style='display:none'>隐藏的99条</p><div>第一段<br>第二段</div><p>— 2 —</p><p>（一）主动公开</p></div>")
    doc = read_document(_write(tmp_path, "r.htm", page(body).encode("utf-8")))
    lines = [ln for ln in doc.text.split("\n") if ln.strip()]
    assert lines == ["一、总体情况", "全年发布信息12条，其中政策解读3篇。", "第一段", "第二段", "（一）主动公开"]
    for gone in ("首页", "主办", "var x", "color", "某县政府门户网站", "99"):
        assert gone not in doc.text
    _assert_offsets_point_at_their_characters(doc)


@pytest.mark.parametrize("head", [
    '<meta charset="gbk">',
    '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
    '<meta charset="utf-8">',  # declared wrongly: the bytes are GBK, detection must win
    "",
])
def test_gbk_pages_decode_by_declaration_or_detection(tmp_path, head):
    body = "<p>一、总体情况</p>" + table_three()
    data = page(body, head).encode("gbk")
    doc = read_document(_write(tmp_path, "gbk.html", data))
    assert doc.encoding == "gb18030"
    assert "一、本年新收政府信息公开申请数量\t\t\t6\t0\t0\t0\t0\t0\t6" in doc.text
    assert "三、本年度办理结果\t（一）予以公开" in doc.text


def test_utf8_page_that_still_declares_gb2312_is_read_as_utf8(tmp_path):
    # 政府 in UTF-8 (E6 94 BF E5 BA 9C) is also valid GBK: the declaration alone would give mojibake
    data = "<html><head><meta charset='gb2312'></head><body><p>政府政府</p></body></html>".encode()
    doc = read_document(_write(tmp_path, "moved.html", data))
    assert doc.encoding == "utf-8"
    assert doc.text.strip() == "政府政府"


def test_declared_charset_is_read_from_meta_and_xml_declaration():
    assert declared_charset(b'<html><head><meta charset="GB2312"></head>') == "GB2312"
    assert declared_charset(b"<meta http-equiv='Content-Type' content='text/html; charset=gbk' />") == "gbk"
    assert declared_charset(b'<?xml version="1.0" encoding="gb18030"?><html>') == "gb18030"
    assert declared_charset(b"<html><body>no charset</body></html>") is None


def test_utf16_page_with_bom_and_xml_declaration(tmp_path):
    markup = '<?xml version="1.0" encoding="utf-16"?>' + page("<p>发布信息28条</p>" + table_three(), "")
    doc = read_document(_write(tmp_path, "word.htm", b"\xff\xfe" + markup.encode("utf-16-le")))
    assert doc.encoding == "utf-16-le"
    assert "发布信息28条" in doc.text.split("\n")
    assert {len(r) for r in _table_lines(doc.text)} == {10}


def test_layout_tables_render_as_blocks_and_the_inner_data_table_as_rows(tmp_path):
    inner = ("<table><tr><td>信息内容</td><td>本年新制发件数</td></tr>"
             "<tr><td>规章</td><td>0</td></tr><tr><td>行政规范性文件</td><td>3</td></tr></table>")
    body = (f"<table width='100%'><tr><td><table><tr><td><h1>某局2022年政府信息公开工作年度报告</h1></td></tr>"
            f"<tr><td><p>二、主动公开政府信息情况</p>{inner}<p>三、收到和处理政府信息公开申请情况</p></td></tr>"
            "</table></td><td>右侧栏</td></tr></table>")
    doc = read_document(_write(tmp_path, "layout.html", page(body).encode("utf-8")))
    lines = [ln for ln in doc.text.split("\n") if ln.strip()]
    assert lines[0] == "某局2022年政府信息公开工作年度报告"
    assert lines[1:5] == ["二、主动公开政府信息情况", "信息内容\t本年新制发件数", "规章\t0", "行政规范性文件\t3"]
    assert lines[5] == "三、收到和处理政府信息公开申请情况"
    assert all(ln.count("\t") == 1 for ln in lines if "\t" in ln)


def test_stray_escaped_markup_and_entities_in_a_page(tmp_path):
    body = "<p>行政强制&lt;b&gt;7&lt;/b&gt; 件&amp;其他&#65296;件&#x3000;完</p>"
    doc = read_document(_write(tmp_path, "esc.html", page(body).encode("utf-8")))
    assert "行政强制7 件&其他0件 完" in doc.text.split("\n")
    _assert_offsets_point_at_their_characters(doc)


def test_html_content_in_a_txt_file_is_read_as_html(tmp_path):
    doc = read_document(_write(tmp_path, "crawled.txt", page(table_three()).encode("utf-8")))
    assert doc.kind == "html"
    assert {len(r) for r in _table_lines(doc.text)} == {10}


@pytest.mark.parametrize(("data", "reason"), [
    ("<html><head><script>var a=1;</script></head><body><nav>首页</nav></body></html>".encode(), "no text"),
    (b"<html><body>" + bytes(range(1, 9)) * 200 + b"</body></html>", "binary"),
])
def test_pages_without_report_text_raise_one_line(tmp_path, data, reason):
    path = _write(tmp_path, "nothing.html", data)
    with pytest.raises(IngestError) as e:
        read_document(path)
    assert "nothing.html" in str(e.value) and reason in str(e.value) and "\n" not in str(e.value)


def test_seed_tables_survive_a_round_trip_through_html(tmp_path, shared_dir):
    """Each seed's tab rows, rebuilt as an HTML table, come back with the same positions."""
    for seed in sorted((shared_dir / "seeds").glob("*.txt")):
        lines = read_document(seed).text.split("\n")
        rows = [ln.split("\t") for ln in lines if "\t" in ln and ln.strip()]
        if not rows:
            continue
        width = max(len(r) for r in rows)
        prose = "".join(f"<p>{html.escape(ln)}</p>\n" for ln in lines if "\t" not in ln and ln.strip())
        table = "<table>" + "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r + [""] * (width - len(r))) + "</tr>\n"
            for r in rows) + "</table>"
        doc = read_document(_write(tmp_path, f"{seed.stem}.html", page(prose + table).encode("utf-8")))
        got = _table_lines(doc.text)
        assert [[c.strip() for c in r] for r in got] == [
            [" ".join(c.split()) for c in r + [""] * (width - len(r))] for r in rows], seed.name
        _assert_offsets_point_at_their_characters(doc)


WORD_PAGE = """<html xmlns:o="urn:schemas-microsoft-com:office:office">
<head><meta http-equiv=Content-Type content="text/html; charset=gb2312">
<!--[if gte mso 9]><xml><w:WordDocument><w:View>Print</w:View></w:WordDocument></xml><![endif]-->
<style><!-- p.MsoNormal {margin:0cm;} --></style></head>
<body lang=ZH-CN><div class=WordSection1>
<p class=MsoNormal style='text-indent:32.0pt'><![if !supportLists]><span>一、</span><![endif]><span>总体情况</span><span lang=EN-US><o:p></o:p></span></p>
<p class=MsoNormal><span lang=EN-US>2021</span><span>年，共发布信息</span><span lang=EN-US>  1359 </span><span>条。</span></p>
<table class=MsoNormalTable border=1 cellspacing=0 cellpadding=0>
 <tr style='height:20pt'>
  <td width=100 rowspan=2><p class=MsoNormal><span>信息内容</span></p></td>
  <td width=50><p class=MsoNormal><span>本年制发件数</span></p></td>
 </tr>
 <tr><td><p class=MsoNormal><span lang=EN-US>0<o:p></o:p></span></p></td></tr>
 <tr><td>规章<td>1<tr><td>规范性文件<td><span lang=EN-US>2</span>
</table>
<p class=MsoNormal>- 1 -</p>
</div></body></html>"""


def test_word_exported_page_with_unclosed_cells(tmp_path):
    doc = read_document(_write(tmp_path, "word.htm", WORD_PAGE.encode("gbk")))
    lines = [ln for ln in doc.text.split("\n") if ln.strip()]
    assert lines == ["一、总体情况", "2021年，共发布信息 1359 条。", "信息内容\t本年制发件数", "\t0", "规章\t1",
                     "规范性文件\t2"]
    _assert_offsets_point_at_their_characters(doc)


def test_odd_span_values_are_clamped_not_fatal(tmp_path):
    table = ("<table><tr><td rowspan='9'>甲</td><td colspan='2px'>乙</td><td rowspan='x'>丙</td></tr>"
             "<tr><td colspan='0'>丁</td><td>戊</td></tr></table>")
    doc = read_document(_write(tmp_path, "odd.html", page(table).encode("utf-8")))
    assert _table_lines(doc.text) == [["甲", "乙", "", "丙"], ["", "丁", "戊", ""]]


def test_a_text_file_holding_an_html_table_keeps_its_lines(tmp_path):
    src = ("某镇2023年报告\n一、总体情况\n发布信息12条。\n<table><tr><td>规章</td><td>0</td></tr>\n"
           "<tr><td>行政规范性文件</td><td>3</td></tr></table>\n五、存在的主要问题\n无。\n")
    doc = read_document(_write(tmp_path, "mixed.txt", src.encode("utf-8")))
    lines = [ln for ln in doc.text.split("\n") if ln.strip()]
    assert lines == ["某镇2023年报告", "一、总体情况", "发布信息12条。", "规章\t0", "行政规范性文件\t3",
                     "五、存在的主要问题", "无。"]


def test_utf16_page_with_a_txt_name_is_sniffed_as_html(tmp_path):
    doc = read_document(_write(tmp_path, "saved.txt", b"\xff\xfe" + page(table_three()).encode("utf-16-le")))
    assert doc.kind == "html" and {len(r) for r in _table_lines(doc.text)} == {10}


@pytest.mark.parametrize("style", STYLES)
def test_gold_reports_published_as_html_tables_read_back_to_the_same_cells(tmp_path, style):
    """Ingest + the template parser on each seed's gold, rebuilt as a GBK page with the real
    template's rowspan/colspan structure: every cell and the report's meta come back."""
    from nianbao.app.pipeline import process_file

    for gold_path in sorted(FIXTURES.glob("*.gold.json")):
        gold = json.loads(gold_path.read_text("utf-8"))
        path = _write(tmp_path, gold_path.name.replace(".gold.json", ".html"), report_page(gold, style).encode("gbk"))
        got = process_file(path).to_contract()
        skip = set(gold.get("uncertain") or [])
        wrong = {k: (v, got["cells"].get(k)) for k, v in gold["cells"].items() if k not in skip and got["cells"].get(k) != v}
        assert not wrong, (path.name, style, wrong)
        assert got["meta"] == gold["meta"], (path.name, style)


def test_hidden_rows_and_cells_are_not_part_of_the_table(tmp_path):
    table = ("<table><tr><td>规章</td><td style='display:none'>9</td><td>0</td></tr>"
             "<tr style='display: none'><td>模板示例</td><td>8</td></tr><tr><td>行政规范性文件</td><td>3</td></tr></table>")
    doc = read_document(_write(tmp_path, "hidden.html", page(table).encode("utf-8")))
    assert _table_lines(doc.text) == [["规章", "0"], ["行政规范性文件", "3"]]
    _assert_offsets_point_at_their_characters(doc)


def test_a_page_without_block_markup_keeps_its_lines_and_tabs(tmp_path):
    src = "<html><body>一、总体情况\n发布信息<b>12</b>条。\n规章\t0\t0\t0\n</body></html>"
    doc = read_document(_write(tmp_path, "bare.html", src.encode("utf-8")))
    assert [ln for ln in doc.text.split("\n") if ln.strip()] == ["一、总体情况", "发布信息12条。", "规章\t0\t0\t0"]


def test_deeply_nested_markup_still_gives_its_text(tmp_path):
    depth = 700  # Word-made pages nest spans and fonts far deeper than libxml2's default limit of 256
    src = ("<html><body><p>开头</p>" + "<div><font>" * depth + "发布信息12条" + "</font></div>" * depth
           + "<p>结尾</p></body></html>")
    doc = read_document(_write(tmp_path, "deep.html", src.encode("utf-8")))
    assert [ln for ln in doc.text.split("\n") if ln.strip()] == ["开头", "发布信息12条", "结尾"]


def test_government_site_chrome_in_plain_divs_is_dropped(tmp_path):
    body = ("<div class='crumb'>当前位置：首页 &gt; 政务公开 &gt; 年度报告</div>"
            "<div class='share'>【字体：大 中 小】 【打印本页】【关闭窗口】</div>"
            "<div class='art'><p>某区2023年政府信息公开工作年度报告</p><p>一、总体情况</p><p>发布信息12条。</p></div>"
            "<div>上一篇：某区2022年政府信息公开工作年度报告</div><div>下一篇：关于开展2024年工作的通知</div>"
            "<div>扫一扫在手机打开当前页</div><div class='foot'>主办单位：某区人民政府办公室 网站标识码：1101000001 "
            "京ICP备12345678号</div>")
    doc = read_document(_write(tmp_path, "chrome.html", page(body).encode("utf-8")))
    assert [ln for ln in doc.text.split("\n") if ln.strip()] == [
        "某区2023年政府信息公开工作年度报告", "一、总体情况", "发布信息12条。"]


def test_random_span_tables_keep_their_shape(tmp_path):
    """Any mix of spans: one line per <tr>, equal positions, every cell's text exactly once."""
    rng = __import__("random").Random(20240501)
    for n in range(60):
        rows, texts = [], []
        for r in range(rng.randint(1, 8)):
            cells = []
            for c in range(rng.randint(0, 6)):
                text = f"格{n}_{r}_{c}"
                texts.append(text)
                rs, cs = rng.choice([1, 1, 1, 2, 3, 9]), rng.choice([1, 1, 2, 4])
                cells.append(f"<td rowspan={rs} colspan={cs}>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        body = "<p>表前</p><table>" + "".join(rows) + "</table><p>表后</p>"
        lines = read_document(_write(tmp_path, f"t{n}.html", page(body).encode())).text.split("\n")
        grid = [ln.split("\t") for ln in lines[lines.index("表前") + 1: lines.index("表后")]]
        assert len(grid) == len(rows), n
        assert len({len(g) for g in grid}) == 1, (n, grid)
        assert sorted(c for g in grid for c in g if c) == sorted(texts), n


def test_seed_prose_published_as_html_keeps_every_gold_quote(tmp_path, shared_dir):
    """Narrative quotes must stay exact substrings of the text the extractor reads."""
    for seed in sorted((shared_dir / "seeds").glob("*.txt")):
        gold = json.loads((FIXTURES / f"{seed.stem}.gold.json").read_text("utf-8"))
        page_bytes = seed_page(read_document(seed).text, gold).encode("gb18030")
        doc = read_document(_write(tmp_path, f"{seed.stem}.html", page_bytes))
        missing = [c["quote"] for c in gold["narrative"] if c["quote"] not in doc.text]
        assert not missing, (seed.name, missing)
        _assert_offsets_point_at_their_characters(doc)
