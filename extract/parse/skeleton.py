"""The Chinese characters of a text, and where each one came from: label search that ignores layout.

A row label is the same words whether it is printed on one line, wrapped over three, split by a
page break, glued to the previous row's digits or interleaved with pipes, tabs and OCR debris.
Searching the text's *skeleton* — its CJK characters only — finds it in all of these with one
`str.find`; the skeleton's positions map every hit back to the printed characters.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def skeletonise(text: str) -> str:
    """The CJK characters of `text`, in order (what a label is searched as)."""
    return "".join(CJK_RUN.findall(text))


@dataclass
class Skeleton:
    """`text`'s CJK characters; run i starts at skeleton index run_skel[i] and text index run_text[i]."""

    text: str
    run_skel: list[int]
    run_text: list[int]

    @classmethod
    def of(cls, source: str) -> Skeleton:
        parts: list[str] = []
        run_skel: list[int] = []
        run_text: list[int] = []
        k = 0
        for m in CJK_RUN.finditer(source):
            run_skel.append(k)
            run_text.append(m.start())
            parts.append(m.group())
            k += m.end() - m.start()
        return cls("".join(parts), run_skel, run_text)

    def to_text(self, k: int) -> int:
        """Text index of skeleton character k (k == len(skeleton): the end of the last run)."""
        if not self.run_skel:
            return 0
        if k >= len(self.text):
            i = len(self.run_skel) - 1
            return self.run_text[i] + (len(self.text) - self.run_skel[i])
        i = bisect.bisect_right(self.run_skel, k) - 1
        return self.run_text[i] + (k - self.run_skel[i])

    def span_to_text(self, a: int, b: int) -> tuple[int, int]:
        """Text span of skeleton characters a..b-1 (from the first one's start to the last one's end)."""
        return self.to_text(a), self.to_text(b - 1) + 1

    def from_text(self, pos: int) -> int:
        """Skeleton index of the first CJK character at or after text index `pos`."""
        i = bisect.bisect_right(self.run_text, pos) - 1
        if i < 0:
            return 0
        offset = pos - self.run_text[i]
        length = (self.run_skel[i + 1] if i + 1 < len(self.run_skel) else len(self.text)) - self.run_skel[i]
        if offset < length:
            return self.run_skel[i] + offset
        return self.run_skel[i] + length

    def find_all(self, needle: str, a: int = 0, b: int | None = None, limit: int = 64) -> list[int]:
        """Skeleton indices where `needle` occurs within [a, b), at most `limit` of them."""
        b = len(self.text) if b is None else b
        out = []
        i = self.text.find(needle, a, b)
        while i >= 0 and len(out) < limit:
            out.append(i)
            i = self.text.find(needle, i + 1, b)
        return out
