"""Stale year, template version, and fees (元 vs 万元, table 二 vs section 六)."""

from __future__ import annotations

import pytest
from rules_support import extraction, gold, gold_names, run, seed_doc

from nianbao.document import Document
from nianbao.models import issue


def _stale(year: int, text: str) -> list:
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.meta.year = year
    return [f for f in run(ex, Document(name="r", kind="txt", text=text)) if f.category == "stale_year"]


@pytest.mark.parametrize("name", gold_names())
def test_stale_year_fires_only_on_the_seed_that_copies_last_year(name):
    fs = [f for f in run(extraction(gold(name)), seed_doc(name)) if f.category == "stale_year"]
    expected = any(f["category"] == "stale_year" for f in gold(name)["findings"]["expected"])
    assert bool(fs) == expected
    if fs:
        assert fs[0].found == 2024 and fs[0].expected == 2025 and "2024年度重点围绕" in fs[0].message


@pytest.mark.parametrize("text", [
    "与2023年相比，申请数量有所增长。",
    "2025年，我镇将继续深入贯彻落实《条例》。",
    "针对存在问题，2025年我们将切实抓好以下工作。",
    "所列数据统计期限自2024年1月1日起至2024年12月31日止。",
    "2023年12月印发的文件已公开。",
    "2023年度报告中指出的问题已整改到位。",
    "临夏县马集镇2023年政府信息公开工作年度报告",
    "上年结转的2023年申请已办结。",
    "前言。\n2023年度政府信息公开工作年度报告中指出的问题已全部整改。",
])
def test_legitimate_mentions_of_other_years(text):
    assert _stale(2024, text) == []


@pytest.mark.parametrize("text", [
    "坚决杜绝负面舆情。2023年度重点围绕乡村振兴开展公开。",
    "（一）主动公开情况\n2023年，我镇共发布信息30条。",
    "2023年全年，通过门户网站公开信息。",
    "本报告所列数据统计期限自2023年1月1日起至2023年12月31日止。",
    "前言。\n根据条例要求，现将2023年度政府信息公开工作年度报告公布如下。",
])
def test_another_year_as_the_reports_own_period(text):
    fs = _stale(2024, text)
    assert len(fs) == 1 and fs[0].found == 2023 and fs[0].severity == "warning"


def test_tables_are_not_prose():
    text = "前言。\n表：2023年，0，0\n正文。"
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.sections = {"table:t3": (text.index("表"), text.index("正文"))}
    assert not [f for f in run(ex, Document(name="r", kind="txt", text=text)) if f.category == "stale_year"]


def test_2021_report_on_the_2019_template():
    ex = extraction(gold("002_17b0dc41428b3418"))
    assert not [f for f in run(ex) if f.category == "template"]
    ex.meta.year = 2022
    fs = [f for f in run(ex) if f.category == "template"]
    assert len(fs) == 1 and fs[0].rule == "template.version"


def test_template_mix_issue_keeps_its_keys():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    keys = [k for k in ex.cells if k.startswith("t3.other_processing.")]
    ex.issues.append(issue("template_mix", keys=keys, detail="（六）其他处理 印作一行（2019 版）"))
    fs = [f for f in run(ex) if f.category == "template"]
    assert len(fs) == 1 and fs[0].keys == keys and "2019 版" in fs[0].message


@pytest.mark.parametrize(("value", "raw", "fires"), [
    (386000, "386000", True),
    (38.6, "386000元", True),
    (96171.6, "96171.6", False),  # a real big city's 行政事业性收费
    (7545, "7545", False),
    (0, "0", False),
])
def test_fee_looks_entered_in_yuan(value, raw, fires):
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t2.admin_fee.amount_wan"].value = value
    ex.cells["t2.admin_fee.amount_wan"].raw = raw
    fs = [f for f in run(ex) if f.rule == "fees.in_yuan"]
    assert bool(fs) == fires
    if fs:
        assert fs[0].keys == ["t2.admin_fee.amount_wan"]


def test_fee_in_yuan_issue_from_the_parser():
    ex = extraction(gold("002_17b0dc41428b3418"))
    ex.issues.append(issue("fee_in_yuan", keys=["t2.procurement.amount_wan"], raw="84030000元"))
    fs = [f for f in run(ex) if f.rule == "fees.in_yuan"]
    assert len(fs) == 1 and "84030000元" in fs[0].message


def _six(amount: float, six: str) -> list:
    text = f"一、总体情况\n正文\n六、其他需要报告的事项\n{six}\n"
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t2.admin_fee.amount_wan"].value = amount
    ex.sections = {"六": (text.index("六"), len(text))}
    return [f for f in run(ex, Document(name="r", kind="txt", text=text)) if f.rule == "fees.section_six"]


def test_fee_table_against_section_six_compares_like_with_like():
    assert _six(12.5, "本年度未收取行政事业性收费。")
    assert not _six(12.5, "本年度未收取信息处理费。")  # a different fee
    assert not _six(0, "本年度未收取行政事业性收费。")
    assert _six(0, "本年度收取行政事业性收费3.2万元。")
    assert not _six(3.2, "本年度收取行政事业性收费3.2万元。")


def test_a_year_heading_an_item_of_a_list_is_not_the_period():
    """d15 (2024): 公开 2024 年度部门预算、2023 年度部门决算 — last year's accounts are this year's news."""
    assert _stale(2024, "其中包括：行政规范性文件 13 件；2024 年度部门\n预算、2023 年度部门决算以及 2023 年上海市科技计划资金分配结果信息。") == []
