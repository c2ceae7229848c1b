"""The shape of a report's text, with the numbers taken out: how a generated form is held to a real one.

A layout of the generated corpus is only worth testing against if real reports look like it. These
functions reduce a text to what a layout decides (line structure, and the sequence of character
classes around the tables once every number is abstracted to one symbol), so a test can render a
real report's gold in a layout and check the result has the real file's shape. Nothing here reads
the report the way the parser does: only character classes and the template's section words.
"""

from __future__ import annotations

import re
import statistics
from difflib import SequenceMatcher

_TOKENS = re.compile(
    r"(?P<tag><[^>]*>)|(?P<nbsp>&nbsp;)|(?P<num>[+-]?\d+(?:\.\d+)?)|(?P<space> +)|(?P<ideo>\u3000+)"
    r"|(?P<nl>\n)|(?P<tab>\t)|(?P<pipe>\|)|(?P<rule>-{3,})|(?P<text>[^<&\d \u3000\n\t|]+|[<&])")
_SYMBOL = {"tag": "<", "nbsp": "~", "num": "9", "space": "_", "ideo": "w", "nl": "n", "tab": "t", "pipe": "|",
           "rule": "-", "text": "L"}
# where the tables start and end, by the template's own words (not the parser's): table 二's 第二十条
# (else section 二's heading), past table 四's header (审结) or heading, up to section 五's words
_START = re.compile(r"第二十条|二、\S{0,12}主动公开政府信息情况")
_ANCHORS = ("审结", "行政复议")
_END = ("存在的主要问题", "主要问题", "改进情况", "其他需要报告")


def signature(text: str) -> str:
    """Each run of one character class as one symbol: 9 number, L other text, _ space, w U+3000,
    n newline, t tab, | pipe, - markdown rule, < tag, ~ &nbsp;."""
    out: list[str] = []
    for m in _TOKENS.finditer(text):
        sym = _SYMBOL[m.lastgroup or "text"]
        if not out or out[-1] != sym:
            out.append(sym)
    return "".join(out)


def table_region(text: str) -> str:
    """The text from the first table word to section 五's heading (or the end)."""
    m = _START.search(text)
    if not m:
        return ""
    start = m.start()
    anchor = next((i for i in (text.find(w, start) for w in _ANCHORS) if i >= 0), start)
    ends = [i for i in (text.find(w, anchor) for w in _END) if i >= 0]
    return text[start:min(ends) if ends else len(text)]


def line_class(text: str) -> str:
    """"one-line" (the body is one line), "short-lines" (a page width's worth each) or "lines"."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return "empty"
    if max(len(ln) for ln in lines) >= 0.75 * len(text):
        return "one-line"
    if len(lines) >= 40 and statistics.median(len(ln) for ln in lines) <= 40:
        return "short-lines"
    return "lines"


def similarity(a: str, b: str) -> float:
    """How alike two signatures are (0–1), in order."""
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def region_signature(text: str) -> str:
    return signature(table_region(text))
