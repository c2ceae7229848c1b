"""Agency, year and template as real pages print them: each test is named after the real case it serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from nianbao.document import Document
from nianbao.extract import read_document
from nianbao.extract.narrative.meta import read_meta


def _meta(text: str, kind: str = "txt", source: str = "") -> tuple[str | None, int | None, str | None]:
    m = read_meta(Document(name="t", kind=kind, text=text, source=source or text))
    return m.agency, m.year, m.template


BODY = "一、总体情况\n本年度，我单位认真贯彻落实《条例》，全年主动公开政府信息 120 条。\n"


def test_a_crawler_title_header_is_not_part_of_the_agency() -> None:
    """d01/d03: a crawler's page.txt starts `标题: 平潭综合实验区2022年度政府信息公开工作年度报告`."""
    text = ("标题: 平潭综合实验区2022年度政府信息公开工作年度报告\n发布时间: 2023-02-20 15:07\n文号: \n"
            "发布机构: \n栏目: 政府信息公开年报\n==================== 正文 ====================\n" + BODY)
    assert _meta(text)[:2] == ("平潭综合实验区", 2022)


def test_a_title_the_crawler_truncated_still_names_agency_and_year() -> None:
    """d05–d09: the CSV's 标题 cell is cut to `…年度报...`, and the body opens with a 根据… sentence."""
    text = ("河北省科学技术厅2021年政府信息公开工作年度报...\n\n根据《中华人民共和国政府信息公开条例》"
            "《河北省实施〈中华人民共和国政府信息公开条例〉办法》等规定，发布本年度报告。报告中所列数据统计"
            "期限为2021年1月1日至12月31日。一、总体情况2021年，河北省科学技术厅坚持…")
    assert _meta(text)[:2] == ("河北省科学技术厅", 2021)


@pytest.mark.parametrize("cut", ["政府信息公开工作...", "政府信息公开工作的年度...", "政府信息公开…"])
def test_a_title_cut_anywhere_after_its_cue_still_names_agency_and_year(cut: str) -> None:
    """A crawler cuts the 标题 cell where its width ends, not only at `年度报...`."""
    text = (f"桐乡市人力资源和社会保障局2025年{cut}\n\n根据《中华人民共和国政府信息公开条例》等规定，发布本年度"
            "报告。报告中所列数据统计期限为2025年1月1日至12月31日。一、总体情况2025年，本局坚持…")
    assert _meta(text)[:2] == ("桐乡市人力资源和社会保障局", 2025)


def test_a_page_joined_into_one_line_still_has_its_title() -> None:
    """A crawler that joins the whole page with spaces: header, title, date and body on one line."""
    text = ("标题: 平潭综合实验区2022年度政府信息公开工作年度报告 发布时间: 2023-02-20 15:07 文号: 发布机构: "
            "栏目: 政府信息公开年报 " + BODY.replace("\n", " "))
    assert _meta(text)[:2] == ("平潭综合实验区", 2022)


def test_a_sentence_is_never_the_agency() -> None:
    """Without a title, the old fallback took `根据《…》…统计期限为` as the agency; now nothing is better."""
    text = ("根据《中华人民共和国政府信息公开条例》等规定，发布本年度报告。报告中所列数据统计期限为2021年1月1日"
            "至12月31日。一、总体情况 全年主动公开政府信息 120 条。")
    agency, year, _ = _meta(text)
    assert agency is None and year == 2021


def test_the_title_after_site_breadcrumbs() -> None:
    text = "首页 > 政务公开 > 政府信息公开年报 > 某某县交通运输局2023年政府信息公开工作年度报告\n" + BODY
    assert _meta(text)[:2] == ("某某县交通运输局", 2023)


def test_the_title_from_an_html_pages_title_element() -> None:
    """d02/d04 carry `<title>报告标题_栏目_站点</title>`; a page whose article lost its heading has only that."""
    source = ("<html><head><title>某某区2024年度政府信息公开工作年度报告_政府信息公开年报_某某区人民政府</title>"
              "</head><body><p>一、总体情况</p></body></html>")
    assert _meta(BODY, kind="html", source=source)[:2] == ("某某区", 2024)


def test_a_title_split_over_lines_by_a_pdf_conversion() -> None:
    """d15/d16: `正文` / `2024 年上海市科委政府信息公开工作` / `年度报告`."""
    text = "正文\n2024 年上海市科委政府信息公开工作\n年度报告\n根据《条例》的要求，市科委编制了 2024 年度报告。\n"
    assert _meta(text + BODY)[:2] == ("上海市科委", 2024)
    text = "正文\n2025 年上海市人民政府办公厅政府信息公开\n工作年度报告\n本年度报告根据《条例》编制。\n"
    assert _meta(text + BODY)[:2] == ("上海市人民政府办公厅", 2025)


def test_the_agency_on_the_line_above_a_title_without_one() -> None:
    text = "某某市生态环境局\n2023年政府信息公开工作年度报告\n" + BODY
    assert _meta(text)[:2] == ("某某市生态环境局", 2023)


def test_a_title_without_agency_falls_back_to_the_source_line_or_the_signature() -> None:
    """d02 prints `来源：平潭县人民政府` under the title; many reports sign off above the date."""
    text = "2023年政府信息公开工作年度报告\n来源：某某镇人民政府 时间：2024-01-20\n" + BODY
    assert _meta(text)[:2] == ("某某镇人民政府", 2023)
    text = "政府信息公开工作年度报告\n" + BODY + "本报告统计期限自2022年1月1日至2022年12月31日。\n某某县水利局\n2023年1月18日\n"
    assert _meta(text)[:2] == ("某某县水利局", 2022)


def test_the_year_from_the_statistics_period_when_the_title_has_none() -> None:
    """The statistics year, not the year the report was written or published in."""
    text = ("某某街道办事处政府信息公开工作年度报告\n本报告中所列数据统计期限从2022年1月1日起至2022年12月31日止。"
            "2023年1月，本街道…\n" + BODY + "2023年，我们将继续做好工作。2023年计划…")
    assert _meta(text)[:2] == ("某某街道办事处", 2022)


def test_a_year_in_chinese_numerals() -> None:
    assert _meta("某某乡人民政府二〇二三年政府信息公开工作年度报告\n" + BODY)[:2] == ("某某乡人民政府", 2023)


def test_关于_and_的_around_the_title_are_not_the_agency() -> None:
    text = "某某区人民政府办公室关于2023年度政府信息公开工作的年度报告\n" + BODY
    assert _meta(text)[:2] == ("某某区人民政府办公室", 2023)


def test_the_template_from_table_words_with_the_year_as_tie_breaker() -> None:
    """d06 (2020) prints the 2019 table 二 (本年新制作数量…); d10–d14 lost their tables: the year decides."""
    t2019 = "河北省某厅2020年政府信息公开工作年度报告\n规章 本年新制作数量 本年新公开数量 对外公开总数量\n"
    assert _meta(t2019)[2] == "2019"
    t2021 = "某某局2020年政府信息公开工作年度报告\n信息内容 本年制发件数 本年废止件数 现行有效件数\n"
    assert _meta(t2021)[2] == "2021"
    assert _meta("某某局2020年政府信息公开工作年度报告\n" + BODY)[2] == "2019"
    assert _meta("某某局2021年政府信息公开工作年度报告\n" + BODY)[2] == "2021"


def _labelled() -> list[tuple[Path, Path]]:
    assert SHARED.is_dir(), f"{SHARED} is missing: the labelled reports live there"
    dev = SHARED / "reports" / "dev"
    pairs = [(p, dev / "gold" / f"{p.stem}.gold.json") for p in sorted((dev / "raw").iterdir())]
    pairs += [(p, SHARED / "fixtures" / f"{p.stem}.gold.json") for p in sorted((SHARED / "seeds").iterdir())]
    pairs += [(p, p.with_suffix(".gold.json")) for p in sorted((SHARED / "reports" / "pdf").glob("*.pdf"))]
    assert len(pairs) == 24
    # the real PDFs take seconds each to read: they run with the slow tests
    return [pytest.param(*pair, marks=pytest.mark.slow) if pair[0].suffix == ".pdf" else pair for pair in pairs]


@pytest.mark.parametrize("path,gold", _labelled(), ids=lambda p: p.stem if isinstance(p, Path) else "")
def test_meta_of_every_labelled_report(path: Path, gold: Path) -> None:
    """All 16 dev files, the 5 seeds and the 3 real PDFs, judged as ../shared/tools/score.py judges them."""
    want = json.loads(gold.read_text(encoding="utf-8"))["meta"]
    got = read_meta(read_document(path))
    assert (got.year, got.template) == (want["year"], want["template"])
    assert got.agency and (want["agency"] in got.agency or got.agency in want["agency"]), got.agency
