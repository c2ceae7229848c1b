"""Tables with real cell boundaries come out as Document.grids (issue 9 item 3, the readers' side):
HTML (rowspan/colspan), Word (gridSpan/vMerge) and ruled PDF tables, every cell's span pointing at
its TAB field of the text, covered positions marked, blank cells empty at their own column.

The text is what it always was (one line per row, TAB-separated); the grids say where each cell is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_ingest_pdf import _page

from nianbao.document import Document, Grid
from nianbao.extract import read_document
from nianbao.extract.ingest.layout import Token, build
from nianbao.spec import T3_COLUMNS, T4_COLUMNS, T4_GROUPS

DOCS = FIXTURES / "docs"


def assert_grid_is_the_text(doc: Document, grid: Grid) -> None:
    """Each grid row is one line of the text: its cells, left to right, are the line's TAB fields
    (trailing empty ones at the line's end), covered positions are empty."""
    assert len(grid.cells) == grid.n_rows * grid.n_cols
    text = doc.text
    for r in range(grid.n_rows):
        row = grid.cells[r * grid.n_cols:(r + 1) * grid.n_cols]
        assert [(c.row, c.col) for c in row] == [(r, k) for k in range(grid.n_cols)]
        line_start = row[0].start
        assert line_start == 0 or text[line_start - 1] == "\n", (r, text[line_start - 20:line_start + 20])
        line_end = text.index("\n", line_start)
        fields = text[line_start:line_end].split("\t")
        for k, cell in enumerate(row):
            assert grid.start <= cell.start <= cell.end <= grid.end
            if cell.covered:
                assert cell.start == cell.end, (r, k)
            if k < len(fields):
                assert text[cell.start:cell.end] == fields[k], (r, k, fields[k])
                assert cell.start == line_start + sum(len(f) + 1 for f in fields[:k])
            else:
                assert cell.start == cell.end == line_end, (r, k)


def _row(doc: Document, label: str) -> list[int]:
    """The numbers of the grid row whose label cell is `label` (spaces ignored)."""
    for grid in doc.grids:
        for r in range(grid.n_rows):
            row = grid.cells[r * grid.n_cols:(r + 1) * grid.n_cols]
            texts = ["".join(doc.text[c.start:c.end].split()) for c in row if not c.covered]
            if label in texts:
                return [int(t) for t in texts[texts.index(label) + 1:] if t.isdigit()]
    raise AssertionError(f"no grid row labelled {label}")


def _t4_values(doc: Document) -> list[int]:
    """Table 四's one row of 15 numbers (the grid whose header holds 行政复议)."""
    for grid in doc.grids:
        heads = {doc.text[c.start:c.end] for c in grid.cells}
        if "行政复议" in heads:
            row = grid.cells[(grid.n_rows - 1) * grid.n_cols:]
            return [int(doc.text[c.start:c.end]) for c in row]
    raise AssertionError("no table 四 grid")


def _assert_grids_hold_the_gold(doc: Document, gold: dict) -> None:
    cells = gold["cells"]
    assert len(doc.grids) >= 3, [(g.n_rows, g.n_cols) for g in doc.grids]
    for grid in doc.grids:
        assert_grid_is_the_text(doc, grid)
    columns = [k for k in cells if k.startswith("t2.regulation.")]  # 2019 and 2021 name them differently
    assert _row(doc, "规章")[:len(columns)] == [cells[k] for k in columns]
    assert _row(doc, "一、本年新收政府信息公开申请数量") == [cells[f"t3.new_received.{c}"] for c in T3_COLUMNS]
    assert _row(doc, "（七）总计") == [cells[f"t3.total_processed.{c}"] for c in T3_COLUMNS]
    assert _t4_values(doc) == [cells[f"t4.{g}.{c}"] for g in T4_GROUPS for c in T4_COLUMNS]


@pytest.mark.parametrize("name", ["d02_pingtan_2022", "d04_pingtan_2023"])
def test_real_html_reports_tables_are_grids_holding_their_gold_values(shared_dir, name):
    doc = read_document(shared_dir / "reports" / "dev" / "raw" / f"{name}.html")
    gold = json.loads((shared_dir / "reports" / "dev" / "gold" / f"{name}.gold.json").read_text("utf-8"))
    _assert_grids_hold_the_gold(doc, gold)
    t3 = next(g for g in doc.grids if g.n_cols == 10)
    # the 3-column label block of table 三: (一)…(七) under 三、本年度办理结果, covered below it
    first = next(r for r in range(t3.n_rows) if doc.text[t3.cell(r, 0).start:t3.cell(r, 0).end] == "三、本年度办理结果")
    assert all(t3.cell(r, 0).covered for r in range(first + 1, t3.n_rows - 1))
    assert not t3.cell(t3.n_rows - 1, 0).covered  # 四、结转下年度继续办理 starts its own row


def test_seed_word_reports_tables_are_grids_holding_their_gold_values():
    for path in sorted(DOCS.glob("*.docx")):
        gold = json.loads((FIXTURES / f"{path.stem}.gold.json").read_text("utf-8"))
        _assert_grids_hold_the_gold(read_document(path), gold)


@pytest.mark.slow
def test_real_text_pdf_tables_are_grids_holding_their_gold_values(shared_dir):
    path = shared_dir / "reports" / "pdf" / "huaian_shi_2024.pdf"
    gold = json.loads(path.with_suffix(".gold.json").read_text("utf-8"))
    doc = read_document(path)
    _assert_grids_hold_the_gold(doc, gold)
    assert all(doc.box_at(c.start) is not None for g in doc.grids for c in g.cells if c.end > c.start)


def _html(tmp_path: Path, body: str, name: str = "t.html") -> Document:
    path = tmp_path / name
    path.write_text(f"<html><head><meta charset='utf-8'></head><body>{body}</body></html>", "utf-8")
    return read_document(path)


def test_blank_html_cells_stay_blank_at_their_own_column(tmp_path):
    doc = _html(tmp_path, "<p>表二</p><table>"
                          "<tr><td rowspan=2>规章</td><td colspan=2>件数</td><td>现行有效</td></tr>"
                          "<tr><td>&nbsp;</td><td></td><td>8</td></tr></table>")
    assert doc.text.split("\n")[1:3] == ["规章\t件数\t\t现行有效", "\t\t\t8"]
    (grid,) = doc.grids
    assert_grid_is_the_text(doc, grid)
    assert (grid.n_rows, grid.n_cols) == (2, 4)
    assert [c.covered for c in grid.cells] == [False, False, True, False, True, False, False, False]
    blank, empty, eight = grid.cell(1, 1), grid.cell(1, 2), grid.cell(1, 3)
    assert blank.start == blank.end and doc.text[blank.start] == "\t"  # the &nbsp; cell: its own field
    assert empty.start == empty.end and doc.text[empty.start] == "\t"
    assert doc.text[eight.start:eight.end] == "8"


def test_a_row_shorter_than_its_table_states_no_blank_where_it_has_no_cell(tmp_path):
    """`（一）予以公开 22 0 0 0 0 22` in a 7-column table: a cell was lost, nobody knows where. The position
    past its last <td> is no printed cell, so it is not a blank that pins the lost one to the end; the
    row sums then place it (total 22, not an empty total and 22 under 其他)."""
    from nianbao.extract.narrative.meta import read_meta
    from nianbao.extract.parse.template_parser import parse_tables

    head = "".join(f"<td>{w}</td>" for w in ("", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"))
    from nianbao.spec import rows as spec_rows

    body = []
    for r in (r for r in spec_rows("2021") if r.table == "t3"):
        values = {"new_received": (22, 0, 0, 0, 0, 0, 22), "total_processed": (22, 0, 0, 0, 0, 0, 22),
                  "granted": (22, 0, 0, 0, 0, 22)}.get(r.row, (0,) * 7)  # granted lost a cell
        label = " ".join(p for p in (r.parent, r.label) if p)
        body.append(f"<tr><td>{label}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
    doc = _html(tmp_path, f"<p>三、收到和处理政府信息公开申请情况</p><table><tr>{head}</tr>{''.join(body)}</table>")
    (grid,) = doc.grids
    granted = next(i for i in range(grid.n_rows) if "予以公开" in doc.text[grid.cell(i, 0).start:grid.cell(i, 0).end])
    last = grid.cell(granted, 7)
    assert last is not None and last.covered and last.start == last.end
    ex = parse_tables(doc, read_meta(doc))
    assert [ex.cells[f"t3.granted.{c}"].value for c in T3_COLUMNS] == [22, 0, 0, 0, 0, None, 22]
    assert any(i.kind == "short_row" and "t3.granted.total" in i.keys for i in ex.issues)


def test_grids_follow_the_text_through_normalisation(tmp_path):
    """Invisible characters dropped, full-width digits, a page-number line removed before the
    table: the cells still point at their (normalised) text, and offsets at the source."""
    doc = _html(tmp_path, "<p>第 1 页</p><p>说明&#8203;文字</p><table><tr><td>规\u200b章</td><td>１２</td></tr>"
                          "<tr><td>文件</td><td>3\u200b4</td></tr></table>")
    (grid,) = doc.grids
    assert_grid_is_the_text(doc, grid)
    assert [doc.text[c.start:c.end] for c in grid.cells] == ["规章", "12", "文件", "34"]
    twelve = grid.cell(0, 1)
    assert doc.source[doc.offsets[twelve.start]] == "１"


def test_a_table_too_big_to_expand_is_read_row_by_row_with_a_note_and_no_grid(tmp_path):
    rows = "".join(f"<tr><td rowspan=700>{i}</td></tr>" for i in range(450))
    doc = _html(tmp_path, f"<p>一、总体情况</p><table>{rows}</table><p>结尾</p>")
    assert not doc.grids
    (note,) = doc.notes
    assert note.kind == "table_not_expanded" and "200000" in note.message
    (span,) = note.spans
    assert doc.text[span[0]:span[1]].split("\n")[:3] == ["0", "1", "2"]


def test_word_grid_marks_spans_and_vertical_merges_as_covered(tmp_path):
    from docx import Document as new_docx
    from docx.shared import Cm

    d = new_docx()
    table = d.add_table(rows=3, cols=3)
    for row in table.rows:
        for cell in row.cells:
            cell.width = Cm(3)
    table.cell(0, 0).merge(table.cell(1, 0)).text = "行政复议"  # vMerge down
    table.cell(0, 1).merge(table.cell(0, 2)).text = "结果"  # gridSpan across
    table.cell(1, 1).text, table.cell(1, 2).text = "维持", "纠正"
    table.cell(2, 0).text, table.cell(2, 2).text = "1", "3"  # (2, 1) left blank
    path = tmp_path / "merged.docx"
    d.save(path)
    doc = read_document(path)
    (grid,) = doc.grids
    assert_grid_is_the_text(doc, grid)
    assert [[(doc.text[c.start:c.end], c.covered) for c in grid.cells[r * 3:(r + 1) * 3]] for r in range(3)] == [
        [("行政复议", False), ("结果", False), ("", True)],
        [("", True), ("维持", False), ("纠正", False)],
        [("1", False), ("", False), ("3", False)],
    ]


def test_pdf_grid_marks_the_positions_a_merged_cell_covers():
    """A ruled table whose first row is one cell across three columns (no rules inside it)."""
    page = _page(1, [[("信息内容", 60)], [("规章", 60), ("1", 210), ("0", 310)], [("文件", 60), ("2", 210)]],
                 [100, 130, 160, 190], skip=set())
    # remove the two inner verticals of the first row: the header spans every column
    page.edges = [e for e in page.edges if not (e[0] == e[2] and e[0] in (200, 300) and e[1] == 100)]
    page.edges += [(200, 130, 200, 190), (300, 130, 300, 190)]
    page.tokens.append(Token("x", 60, 300, 70, 310))  # a free line after the table
    doc = build([page], "t.pdf", "pdf", "")
    (grid,) = doc.grids
    assert_grid_is_the_text(doc, grid)
    assert (grid.n_rows, grid.n_cols) == (3, 3)
    assert [c.covered for c in grid.cells] == [False, True, True] + [False] * 6
    assert [doc.text[c.start:c.end] for c in grid.cells] == ["信息内容", "", "", "规章", "1", "0", "文件", "2", ""]
    assert grid.cell(2, 2).start == grid.cell(2, 2).end == doc.text.index("2\n") + 1
