"""Helpers for the store/review tests: generated reports, a key=value backend, a balance rule.

The store must work whatever the parser reads, so these tests drive it with reports whose
numbers are known: a tiny backend reads `key: value` lines (with real spans), and a test rule
checks the template's balance identity so findings, re-runs and corrections have something
real to act on.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator
from pathlib import Path

from nianbao.document import Document
from nianbao.identities import identities
from nianbao.models import CellReading, Extraction, Finding, Meta
from nianbao.rules import registry
from nianbao.spec import T3_COLUMNS, keys, rows

LINE = re.compile(r"^(t[234]\.[a-z_.]+)\s*[:：]\s*(\S+)\s*$", re.M)
HEAD = re.compile(r"^(\S+?)(\d{4})年")
TEST_RULE = "test.balance"


def consistent_values(rng: random.Random, template: str = "2021", carried_over: dict[str, int] | None = None
                      ) -> dict[str, int]:
    """Cell values that satisfy every identity of table 三 and 四 (t2 random)."""
    v = {k: 0 for k in keys(template)}
    for k in keys(template):
        if k.startswith("t2."):
            v[k] = rng.randint(0, 30)
    for row in ("regulation", "normative_doc"):  # documents in force include this year's new ones
        if f"t2.{row}.in_force" in v:
            v[f"t2.{row}.in_force"] = v[f"t2.{row}.issued"] + rng.randint(0, 30)
    parts = T3_COLUMNS[:-1]
    for col in parts:
        granted = rng.randint(0, 9)
        partial = rng.randint(0, 3)
        forward = rng.randint(0, 2)
        carried = (carried_over or {}).get(col, rng.randint(0, 2))
        v[f"t3.granted.{col}"] = granted
        v[f"t3.partially_granted.{col}"] = partial
        v[f"t3.total_processed.{col}"] = granted + partial
        v[f"t3.carried_forward.{col}"] = forward
        v[f"t3.carried_over.{col}"] = carried
        v[f"t3.new_received.{col}"] = granted + partial + forward - carried
        if v[f"t3.new_received.{col}"] < 0:
            v[f"t3.carried_over.{col}"] += v[f"t3.new_received.{col}"]
            v[f"t3.new_received.{col}"] = 0
    for r in [r.row for r in rows(template) if r.table == "t3"]:
        v[f"t3.{r}.total"] = sum(v[f"t3.{r}.{c}"] for c in parts)
    for g in ("review", "suit_direct", "suit_after_review"):
        up = rng.randint(0, 3)
        v[f"t4.{g}.upheld"], v[f"t4.{g}.total"] = up, up
    return v


def report_text(agency: str, year: int, values: dict[str, int | float | None], extra: str = "") -> str:
    """A report in the test format: a heading, some prose, one `key: value` line per cell."""
    lines = [f"{agency}{year}年政府信息公开工作年度报告", "一、总体情况", extra or "本年度依法做好政府信息公开工作。"]
    for k, val in values.items():
        lines.append(f"{k}: {'/' if val is None else val}")
    return "\n".join(lines) + "\n"


class KeyValueBackend:
    """Reads the test format: meta from the heading, cells from `key: value` lines, with spans."""

    name = "rules"

    def extract(self, doc: Document) -> Extraction:
        m = HEAD.match(doc.text)
        meta = Meta(agency=m.group(1) if m else None, year=int(m.group(2)) if m else None, template="2021")
        cells = {}
        for mm in LINE.finditer(doc.text):
            raw = mm.group(2)
            value = None if raw in ("/", "无") else (float(raw) if "." in raw else int(raw))
            cells[mm.group(1)] = CellReading(key=mm.group(1), value=value, raw=raw,
                                             span=doc.span(mm.start(2), mm.end(2)))
        return Extraction(report=doc.name, meta=meta, cells=cells, backend="rules")


def balance_rule(ctx: registry.RuleContext) -> list[Finding]:
    """一 新收 + 二 上年结转 = 三 总计 + 四 结转 per column, the way the real arithmetic rule states it."""
    out = []
    for ident in identities(ctx.template):
        if ident.kind != "balance":
            continue
        r = ident.residual(ctx.values)
        if r:
            rhs = sum(ctx.values[k] for k in ident.rhs)  # type: ignore[misc]
            out.append(Finding(category="arithmetic", rule=TEST_RULE, severity="error", keys=list(ident.keys),
                               message=f"新收+结转≠办理+结转下年度（{ident.id}）", expected=rhs, found=rhs + r))
    return out


@contextlib.contextmanager
def balance_rule_registered() -> Iterator[None]:
    """Register the test rule for the duration of a test, whatever rules main already has."""
    registry.rule(TEST_RULE, "arithmetic", "error")(balance_rule)
    try:
        yield
    finally:
        registry.RULES.pop(TEST_RULE, None)


def write_reports(folder: Path, n: int, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"r{i:04d}.txt"
        p.write_text(template_text(f"测试{i}镇", 2023, consistent_values(rng)), encoding="utf-8")
        out.append(p)
    return out


def extraction_from(text: str, name: str = "x.txt") -> tuple[Document, Extraction]:
    doc = Document(name=name, kind="txt", text=text)
    return doc, KeyValueBackend().extract(doc)


def template_text(agency: str, year: int, values: dict[str, int | float | None], template: str = "2021") -> str:
    """A report in the national template's layout (pipe rows under its printed labels)."""
    def cell(k: str) -> str:
        v = values.get(k)
        return "" if v is None else str(v)

    out = [f"{agency}{year}年政府信息公开工作年度报告", "", "一、总体情况",
           f"{year}年，{agency}认真贯彻落实《中华人民共和国政府信息公开条例》。", "", "二、主动公开政府信息情况"]
    section = None
    for r in rows(template):
        if r.table != "t2":
            continue
        if r.section != section:
            section = r.section
            out.append(f"| {section} |")
            out.append("| 信息内容 | " + " | ".join(f.label.split(" ")[-1] for f in r.fields) + " |")
        out.append(f"| {r.label} | " + " | ".join(cell(f.key) for f in r.fields) + " |")
    out += ["", "三、收到和处理政府信息公开申请情况",
            "| （本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和） | 申请人情况 |",
            "| | 自然人 | 法人或其他组织 | | | | | 总计 |",
            "| | | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | |"]
    parent = None
    for r in rows(template):
        if r.table != "t3":
            continue
        label = r.label
        if r.parent and r.parent != parent:
            label = f"{r.parent} | {r.label}"
        parent = r.parent
        if r.row == "granted":
            label = f"三、本年度办理结果 | {label}"
        out.append(f"| {label} | " + " | ".join(cell(f.key) for f in r.fields) + " |")
    out += ["", "四、政府信息公开行政复议、行政诉讼情况",
            "| 行政复议 | | | | | 行政诉讼 |",
            "| 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 | 未经复议直接起诉 | | | | | 复议后起诉 |"]
    t4 = [f.key for r in rows(template) if r.table == "t4" for f in r.fields]
    out.append("| " + " | ".join(cell(k) for k in t4) + " |")
    out += ["", "五、存在的主要问题及改进情况", "一是信息发布的及时性有待提高；二是人员业务能力有待加强。下一步将加强培训，规范发布流程。",
            "", "六、其他需要报告的事项", "无。"]
    return "\n".join(out) + "\n"
