"""Each crawled layout of the generator has the shape of the real files it stands for.

Every dev report's gold (../shared/reports/dev, real published reports) is rendered in every layout;
the layout that stands for the report's form must come out nearest to the real file, by the order
of character classes around the tables once numbers are abstracted (eval/shape.py), and with the
same line structure. The knobs a form has (spaces after labels, U+3000 framing, &nbsp; padding…)
are set to what the real file shows; the cells, labels and everything else come from the gold and
the generator. This holds the generator to real reports instead of to the parser.
"""

from __future__ import annotations

import json

import pytest

from nianbao.eval.shape import line_class, region_signature, similarity
from nianbao.eval.synth import LAYOUTS, render_gold

# dev file → (layout, features, the form's knobs as the real file shows them, least similarity)
CASES = {
    "d01_pingtan_2022.txt": ("crawl_line", set(), {"sep": " ", "label_space": 0.8, "t4_spaced": True,
                                                   "head_sep": " "}, 0.85),
    "d02_pingtan_2022.html": ("html_crawl", set(), {"p_style": "span", "t4_head": "per_char", "value_nbsp": ["t4"],
                                                    "label_nbsp": {"t2": 0.2, "t3": 0.95, "t4": 0.5}}, 0.85),
    "d03_pingtan_2023.txt": ("crawl_line", set(), {"sep": "", "t4_spaced": False, "head_sep": ""}, 0.95),
    "d04_pingtan_2023.html": ("html_crawl", set(), {"p_style": "indent", "t4_head": "br", "value_nbsp": [],
                                                    "label_nbsp": {}}, 0.95),
    "d05_hebei_kejiting_2019.txt": ("csv_cell", {"t2_dropped", "t3_sentence", "t4_sentence"}, {"para_ideo": True},
                                    0.9),
    "d06_hebei_kejiting_2020.txt": ("csv_cell", {"t3_sentence", "t4_sentence"},
                                    {"t2_framed": False, "amount_unit": True, "para_ideo": True}, 0.95),
    "d07_hebei_kejiting_2021.txt": ("csv_cell", set(), {"para_ideo": False}, 0.95),
    "d08_hebei_kejiting_2022.txt": ("csv_cell", set(), {"t2_framed": True, "para_ideo": True}, 0.95),
    "d09_hebei_kejiting_2023.txt": ("csv_cell", set(), {"t2_framed": False, "para_ideo": True}, 0.95),
    "d10_hebei_renshe_2019.txt": ("dropped", None, {}, 0.95),
    "d11_hebei_renshe_2020.txt": ("dropped", None, {"no_heading_五": True}, 0.7),
    "d13_hebei_renshe_2022.txt": ("dropped", None, {"no_heading_四": True, "no_heading_五": True}, 0.7),
    "d14_hebei_renshe_2023.txt": ("dropped", None, {}, 0.95),
    "d15_shanghai_kewei_2024.md": ("pdf_md", set(), {"keep_label": 0.35, "rule_every": 0.6}, 0.6),
    "d16_shanghai_szfbgt_2025.md": ("pdf_md", set(), {"keep_label": 0.85, "rule_every": 0.3, "trailing_cell": 0.3},
                                    0.6),
}
# d12's 内容 cell holds only a site footer: there is no report text to take a shape from
NOT_A_SHAPE = {"d12_hebei_renshe_2021.txt"}


def test_every_dev_report_has_a_form(shared_dir):
    names = {p.name for p in (shared_dir / "reports" / "dev" / "raw").iterdir()}
    assert names == set(CASES) | NOT_A_SHAPE


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_has_the_real_files_shape(shared_dir, name):
    layout, features, style, floor = CASES[name]
    dev = shared_dir / "reports" / "dev"
    real = (dev / "raw" / name).read_text(encoding="utf-8")
    gold = json.loads((dev / "gold" / (name.rsplit(".", 1)[0] + ".gold.json")).read_text(encoding="utf-8"))
    target = region_signature(real)
    sims = {}
    for other in LAYOUTS:
        own = other == layout
        rep = render_gold(gold, other, features=features if own else None, plain_labels=True,
                          style=style if own else None)
        sims[other] = similarity(target, region_signature(rep.text))
        if own:
            assert line_class(rep.text) == line_class(real), f"{name}: {line_class(rep.text)} vs {line_class(real)}"
    runner_up = max(v for k, v in sims.items() if k != layout)
    assert sims[layout] >= floor, f"{name}: {layout} is only {sims[layout]:.2f} alike"
    assert sims[layout] >= runner_up + 0.05, f"{name}: {layout} {sims[layout]:.2f}, another layout {runner_up:.2f}"
