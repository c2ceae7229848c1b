"""Every weight and threshold of the template parser, in one frozen dataclass.

The parser reads a table by (1) finding the template's row labels in the text, (2) taking the
numbers that lie between one label and the next, and (3) choosing, among the readings those
numbers allow, the one the template's identities accept. Steps (1) and (3) need judgement: how
alike two labels must be, what a digit run split costs against a blank cell that vanished. Those
numbers live here, named and explained, so a change is visible and a test can name what it relies on.

Costs are negative log-odds in "surprise" units: a reading's cost is the sum of the costs of the
edits it needs (a cut inside a printed number, a cell with nothing printed, two printed numbers
read as one, a printed number left out). The cheapest reading the identities accept wins; readings
within `ambiguity_margin` of it are equally likely and make their differing cells uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass

from nianbao.readings import Costs


@dataclass(frozen=True)
class ParserSettings:
    # ---- finding labels -------------------------------------------------------------------------
    # how alike (0..1) printed text must be to a template label to be taken as that label when the
    # exact words are not there (OCR damage, a typo, a reworded label)
    label_match: float = 0.72
    # labels this short (CJK characters) are taken only as printed and only next to their ordinal
    # or between neighbours found in order (总计, 其他, 规章 are also header words)
    short_label: int = 2
    # what skipping a template label costs the ordered alignment (it prefers finding more labels)
    skip_label: float = 0.35
    # a group label (（三）不予公开) counts this much of a row label: OCR and PDF text often print it after
    # its first row (a vertically centred merged cell), and then the row must win
    group_weight: float = 0.5
    # how many occurrences of one label the alignment considers (nearest first); bounds the work
    max_hits_per_label: int = 12
    # evidence a label occurrence gives the alignment: found as printed, as a known variant, by
    # similarity; a short label without its ordinal; a three-character label; its ordinal printed
    weight_exact: float = 1.0
    weight_variant: float = 0.9
    weight_fuzzy: float = 0.8
    weight_short_alone: float = 0.3
    weight_short_with_ordinal: float = 0.9
    weight_three_chars: float = 0.85
    bonus_ordinal: float = 0.1
    # how far before a label its ordinal may be printed (characters)
    ordinal_reach: int = 12
    # how alike (0..100) text after a label must be to its note to be taken as the note
    note_match: float = 60
    # a table-二 row found out of order must be this good a match (or have numbers right after it)
    unordered_min_score: float = 0.8
    # table 三 is there when a label at least this long is found as printed, or this many rows are
    t3_strong_label: int = 8
    t3_min_rows: int = 6
    # table 二 without any 第二十条 sub-heading or column word needs this many rows
    t2_min_rows_without_header: int = 3
    # fuzzy search is done only in gaps this long (skeleton characters) between labels found
    max_fuzzy_gap: int = 400
    # the longest section heading, in CJK characters after its ordinal
    heading_reach: int = 24

    # text after a table's last values that holds this many CJK characters (header words aside) is
    # prose: the table ends before it
    prose_min_chars: int = 4
    # how many rows around a row with torn values may trade values with it
    rebalance_reach: int = 4
    # a number left out of a row that is no longer than this and stands alone between text is OCR
    # debris of a label (reported as such), not an extra cell
    stray_max_chars: int = 2
    # a table 四 whose column words are lost is taken only if this many numbers stand where it should
    t4_min_cells_without_header: int = 10

    # ---- reading a row's numbers: the edit costs and search bounds (nianbao.readings.Costs) ------
    reading: Costs = Costs()

    # ---- choosing among readings ---------------------------------------------------------------
    # readings this close in cost are equally likely: their differences are reported as uncertain
    ambiguity_margin: float = 0.05
    # the most combinations of open rows the table-level search tries before settling row by row
    max_combinations: int = 3000

    # ---- confidence of a cell, by how it was read (OCR confidence caps it further) -------------
    confidence_split: float = 0.8
    confidence_merged: float = 0.7
    confidence_repaired: float = 0.6
    confidence_other: float = 0.9


SETTINGS = ParserSettings()
