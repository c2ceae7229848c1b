"""The labels the parser looks for, table by table, in the template's printed order.

Everything comes from the spec (nianbao/data/fields.json): each row's label and cells, table 二's
第二十条第（X）项 sub-headings, the column words; nianbao/data/layout.json adds what the spec does
not name (table 三's group 三、本年度办理结果, header words, printed variants of labels). A label is
searched by its *core* — its CJK characters without ordinal and without its parenthesised note —
and then widened over the ordinal printed before it and the note printed after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from nianbao.data import load
from nianbao.extract.parse.skeleton import skeletonise
from nianbao.spec import is_signed, rows

CJK_NUMERALS = "一二三四五六七八九十"
_ORDINAL = re.compile(r"^\s*(?:[（(]\s*([一二三四五六七八九十\d]{1,3})\s*[)）]|([一二三四五六七八九十]{1,3})\s*[、.．]|(\d{1,2})\s*[.、．])")
_NOTE = re.compile(r"[（(][^）)]*[)）]")


@dataclass(frozen=True)
class LabelSpec:
    """A label the parser aligns: a row (holds `n` values), a group or sub-heading (holds none)."""

    id: str  # row path ("granted", "denied.state_secret"), "group:denied", "sub:一", or "t4"
    table: str
    kind: str  # "row", "group", "sub"
    core: str  # CJK characters searched for
    variants: tuple[str, ...]  # other printed cores (other wordings)
    note: str  # CJK characters of the note printed after the core, e.g. 区分处理的只计这一情形…
    ordinal: str  # the numeral printed before it ("一", "3"), "" if none
    n: int
    keys: tuple[str, ...]
    parent: str = ""  # the group a table-三 row belongs to ("group:denied"), if any
    signed: tuple[int, ...] = ()  # positions of the cells that may be negative (本年增/减); counts elsewhere

    @property
    def holds_values(self) -> bool:
        return self.n > 0


def split_label(label: str) -> tuple[str, str, str]:
    """(ordinal numeral, core CJK, note CJK) of a printed label such as （二）部分公开（区分处理的…）."""
    m = _ORDINAL.match(label)
    ordinal = ""
    rest = label
    if m:
        ordinal = next(g for g in m.groups() if g)
        rest = label[m.end():]
    notes = _NOTE.findall(rest)
    core_text = _NOTE.sub("", rest)
    # a note that is the whole label's tail (（区分处理的…）) is optional; one inside it (（单位：万元）) too
    return ordinal, skeletonise(core_text), skeletonise("".join(notes))


def _variants(core: str) -> tuple[str, ...]:
    return tuple(load("layout").get("label_variants", {}).get(core, ()))


@cache
def table_labels(template: str, table: str) -> tuple[LabelSpec, ...]:
    """The labels of one table in printed order (groups and sub-headings included)."""
    out: list[LabelSpec] = []
    seen_parents: set[str] = set()
    seen_sections: set[str] = set()
    extra = load("layout")["t3_extra_labels"]
    for r in rows(template):
        if r.table != table:
            continue
        if table == "t2" and r.section and r.section not in seen_sections:
            seen_sections.add(r.section)
            _, core, _ = split_label(r.section)
            # 第二十条第（一）项: the numeral inside the brackets is what tells the blocks apart
            out.append(LabelSpec(f"sub:{r.section}", table, "sub", skeletonise(r.section), (), "", "", 0, ()))
        if table == "t3" and r.parent and r.parent not in seen_parents:
            seen_parents.add(r.parent)
            ordinal, core, note = split_label(r.parent)
            gid = "group:" + r.row.split(".")[0]
            out.append(LabelSpec(gid, table, "group", core, _variants(core), note, ordinal, 0, ()))
        ordinal, core, note = split_label(r.label)
        if table == "t4":
            continue
        parent = "group:" + r.row.split(".")[0] if r.parent else ""
        signed = tuple(i for i, k in enumerate(r.keys) if is_signed(k, template))
        out.append(LabelSpec(r.row, table, "row", core, _variants(core), note, ordinal, len(r.fields),
                             tuple(r.keys), parent, signed))
        if table == "t3" and r.row == extra["after"]:
            ordinal, core, note = split_label(extra["label"])
            out.append(LabelSpec("group:" + extra["group"], table, "group", core, (), note, ordinal, 0, ()))
    if table == "t4":
        keys = tuple(k for r in rows(template) if r.table == "t4" for k in r.keys)
        out.append(LabelSpec("t4", "t4", "row", "", (), "", "", len(keys), keys))
    return tuple(out)


@cache
def header_words(table: str) -> tuple[str, ...]:
    """Column words of a table (skeletons): they hold no values and end the row before them."""
    words = {skeletonise(w) for w in load("layout")["header_words"].get(table, ())}
    for template in ("2019", "2021"):
        for r in rows(template):
            if r.table != table:
                continue
            for f in r.fields:
                if table == "t2":
                    words.add(skeletonise(f.label.split(" ", 2)[-1]))
                elif table == "t4":
                    words.update(skeletonise(w) for w in f.label.split(" "))
    words.update(v for w in list(words) for v in _variants(w))
    return tuple(sorted((w for w in words if w), key=len, reverse=True))


@cache
def ordinal_pattern(numeral: str) -> re.Pattern[str] | None:
    """How the numeral may be printed right before its label: （三） (三) 三、 3. 3、 3．, or a bare 3."""
    if not numeral:
        return None
    n = re.escape(numeral)
    return re.compile(rf"(?:[（(]\s*{n}\s*[)）]|{n}\s*[、.．,，]|{n})\s*$")


def groups_children(template: str) -> dict[str, tuple[LabelSpec, ...]]:
    """Table 三's groups and the rows under each."""
    out: dict[str, list[LabelSpec]] = {}
    for s in table_labels(template, "t3"):
        if s.parent:
            out.setdefault(s.parent, []).append(s)
    return {k: tuple(v) for k, v in out.items()}
