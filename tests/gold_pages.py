"""Gold fixtures rendered as government-style HTML pages: the real template's tables with
rowspan/colspan, in the styles sites and Word exports publish them. Used by the HTML ingest tests."""
from __future__ import annotations

import html

from nianbao import spec

STYLES = ("plain", "word", "fullwidth", "layout")


class _Cells:
    """How one style writes a cell's value and a <td>."""

    def __init__(self, style: str) -> None:
        self.style = style


    def v(self, cells: dict, key: str) -> str:
        value = cells.get(key)
        if value is None:
            return "&nbsp;" if self.style == "word" else ""
        text = str(value)
        if self.style == "fullwidth":
            text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "." else c for c in text)
        return html.escape(text)

    def td(self, text: str, rs: int = 1, cs: int = 1) -> str:
        attrs = (f' rowspan="{rs}"' if rs > 1 else "") + (f' colspan="{cs}"' if cs > 1 else "")
        if self.style == "word":
            text = f"<p class=MsoNormal align=center><span lang=EN-US style='font-size:10.5pt'>{text}<o:p></o:p></span></p>"
        return f"<td{attrs}>\n  {text}\n</td>"


def table_two(template: str, cells: dict, w: _Cells) -> str:
    rows = [r for r in spec.rows(template) if r.table == "t2"]
    width = 1 + max(len(r.fields) for r in rows)
    out, section = [], None
    for r in rows:
        if r.section != section:
            section = r.section
            out.append("<tr>" + w.td(section, cs=width) + "</tr>")
            heads = [f.label.split(" ", 2)[2] for f in r.fields]
            span = (width - 1) // len(heads)
            out.append("<tr>" + w.td("信息内容") + "".join(w.td(h, cs=span + (width - 1 - span * len(heads) if i == len(heads) - 1 else 0))
                                                        for i, h in enumerate(heads)) + "</tr>")
        span = (width - 1) // len(r.fields)
        out.append("<tr>" + w.td(r.label) + "".join(
            w.td(w.v(cells, f.key), cs=span + (width - 1 - span * len(r.fields) if i == len(r.fields) - 1 else 0))
            for i, f in enumerate(r.fields)) + "</tr>")
    return "<table border=1>" + "\n".join(out) + "</table>"


def table_three(template: str, cells: dict, w: _Cells) -> str:
    rows = [r for r in spec.rows(template) if r.table == "t3"]
    result = [r for r in rows if r.row not in ("new_received", "carried_over", "carried_forward")]
    heads = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
    out = [
        "<tr>" + w.td("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3) + w.td("申请人情况", cs=7) + "</tr>",
        "<tr>" + w.td("自然人", 2) + w.td("法人或其他组织", cs=5) + w.td("总计", 2) + "</tr>",
        "<tr>" + "".join(w.td(h) for h in heads) + "</tr>",
    ]

    def values(r) -> str:
        return "".join(w.td(w.v(cells, f.key)) for f in r.fields)

    seen_parent: set[str] = set()
    for r in rows:
        if r.row in ("new_received", "carried_over", "carried_forward"):
            out.append("<tr>" + w.td(r.label, cs=3) + values(r) + "</tr>")
            continue
        lead = w.td("三、本年度办理结果", rs=len(result)) if r is result[0] else ""
        if r.parent:
            if r.parent not in seen_parent:
                seen_parent.add(r.parent)
                n = sum(1 for x in result if x.parent == r.parent)
                lead += w.td(r.parent, rs=n)
            lead += w.td(r.label)
        else:
            lead += w.td(r.label, cs=2)
        out.append("<tr>" + lead + values(r) + "</tr>")
    return "<table border=1>" + "\n".join(out) + "</table>"


def table_four(template: str, cells: dict, w: _Cells) -> str:
    cols = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    out = [
        "<tr>" + w.td("行政复议", 2, 5) + w.td("行政诉讼", cs=10) + "</tr>",
        "<tr>" + w.td("未经复议直接起诉", cs=5) + w.td("复议后起诉", cs=5) + "</tr>",
        "<tr>" + "".join(w.td(c) for c in cols * 3) + "</tr>",
        "<tr>" + "".join(w.td(w.v(cells, f"t4.{g}.{c}")) for g in spec.T4_GROUPS for c in spec.T4_COLUMNS) + "</tr>",
    ]
    return "<table border=1>" + "\n".join(out) + "</table>"


def report_page(gold: dict, style: str = "plain") -> str:
    w = _Cells(style)
    meta, cells = gold["meta"], gold["cells"]
    t = meta["template"]
    title = f"{meta['agency']}{meta['year']}年政府信息公开工作年度报告"
    body = (f"<h1>{title}</h1><p>一、总体情况</p><p>{meta['year']}年，本机关认真贯彻落实《条例》。</p>"
            f"<p>二、主动公开政府信息情况</p>{table_two(t, cells, w)}"
            f"<p>三、收到和处理政府信息公开申请情况</p>{table_three(t, cells, w)}"
            f"<p>四、政府信息公开行政复议、行政诉讼情况</p>{table_four(t, cells, w)}"
            "<p>五、存在的主要问题及改进情况</p><p>无。</p><p>六、其他需要报告的事项</p><p>无。</p>")
    if style == "layout":
        body = (f"<table width='100%'><tr><td colspan=2>某某县人民政府门户网站</td></tr>"
                f"<tr><td width='80%'>{body}</td><td>相关链接<table><tr><td>政策解读</td></tr></table></td></tr></table>")
    return (f"<!DOCTYPE html><html><head><meta charset='gbk'><title>{title}</title></head>"
            f"<body><nav>首页 &gt; 政务公开</nav><div class='article'>{body}</div></body></html>")


def seed_page(text: str, gold: dict) -> str:
    """A seed as its site might publish it: its own section 一 and 五/六 prose as paragraphs,
    its tables (from the gold) as the template's HTML tables."""
    lines = text.split("\n")

    def first(prefix: str) -> int | None:
        return next((i for i, ln in enumerate(lines) if ln.strip().lstrip("#").strip().startswith(prefix)), None)

    two, five = first("二、"), first("五、")
    head = [ln for ln in lines[:two] if ln.strip()]
    tail = [ln for ln in lines[five:] if ln.strip()] if five is not None else []
    w, t, cells = _Cells("plain"), gold["meta"]["template"], gold["cells"]

    def paragraphs(ls: list[str]) -> str:
        return "".join(f"<p>{html.escape(ln)}</p>\n" for ln in ls)

    body = (paragraphs(head) + "<p>二、主动公开政府信息情况</p>" + table_two(t, cells, w)
            + "<p>三、收到和处理政府信息公开申请情况</p>" + table_three(t, cells, w)
            + "<p>四、政府信息公开行政复议、行政诉讼情况</p>" + table_four(t, cells, w) + paragraphs(tail))
    return f"<html><head><meta charset='gbk'></head><body><div class='nav'>首页</div>{body}</body></html>"
