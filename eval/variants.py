"""Real reports re-encoded the ways publishing and crawling re-encode a page, scored against their own gold.

The gold of a real report does not change when its text is joined into one line, double-spaced,
wrapped at a page width, printed in full-width digits, saved as GB18030 with CRLF line ends, or set
in `<p>` or `<br>` HTML: the cells are the same cells. A parser that reads d01–d16 only because of
their own line breaks fails here, which the generated corpus (built on the parser's assumptions)
cannot show. Only plain-text reports (.txt, .md) are re-encoded; a markdown file is not joined into
one line (no crawler hands out flattened markdown), and no variant cuts inside a number.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".txt", ".md")
PAGE_WIDTH = 30  # characters per line of the wrapped variant (a narrow PDF column)
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Variant:
    name: str
    about: str
    suffix: str | None  # the file's new suffix, None to keep it
    encode: Callable[[str, str], bytes | None]  # (text, suffix) → the file's bytes, None: not this file


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def _one_line(text: str, suffix: str) -> bytes | None:
    return None if suffix == ".md" else _utf8(re.sub(r"\s+", " ", text).strip())


def _wrap_line(line: str, width: int = PAGE_WIDTH) -> list[str]:
    """Cut a line every `width` characters, moving each cut past a number it would split (12|34, 3.|5)."""
    if "|" in line:  # a markdown table row stays whole, as converters print it
        return [line]
    out = []
    while len(line) > width:
        i = width
        while i < len(line) and (line[i].isdigit() or line[i] in ".,") and (line[i - 1].isdigit() or line[i - 1] in ".,"):
            i += 1
        out.append(line[:i])
        line = line[i:]
    return [*out, line]


def _wrapped(text: str, suffix: str) -> bytes:
    return _utf8("\n".join(part for line in text.split("\n") for part in _wrap_line(line)))


def _html(text: str, tag: str) -> bytes:
    lines = [html.escape(line) for line in text.split("\n")]
    body = "".join(f"<p>{line}</p>\n" for line in lines) if tag == "p" else "<div>" + "<br>".join(lines) + "</div>"
    return _utf8(f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>')


VARIANTS: tuple[Variant, ...] = (
    Variant("one_line", "every whitespace run one space: the page joined into one line", None, _one_line),
    Variant("double_spaced", "every line break doubled", None, lambda t, s: _utf8(t.replace("\n", "\n\n"))),
    Variant("wrapped", f"lines cut every {PAGE_WIDTH} characters, never inside a number", None, _wrapped),
    Variant("fullwidth_digits", "every digit full-width (０-９)", None, lambda t, s: _utf8(t.translate(_FULLWIDTH))),
    Variant("gb18030_crlf", "GB18030 bytes, CRLF line ends", None,
            lambda t, s: t.replace("\n", "\r\n").encode("gb18030")),
    Variant("html_p", "an HTML page, one <p> per line", ".html", lambda t, s: _html(t, "p")),
    Variant("html_br", "an HTML page, lines parted by <br>", ".html", lambda t, s: _html(t, "br")),
)


def write_variants(raw: Path, gold: Path, out: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write each variant of every text report in `raw` that has gold to OUT/<variant>/, with the gold
    beside it; returns variant name → folder. Nothing is written into `raw` or `gold`."""
    chosen = [v for v in VARIANTS if names is None or v.name in names]
    unknown = set(names or ()) - {v.name for v in VARIANTS}
    if unknown:
        raise ValueError(f"unknown variant(s): {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(v.name for v in VARIANTS)})")
    sources = [p for p in sorted(raw.iterdir()) if p.suffix in TEXT_SUFFIXES and (gold / f"{p.stem}.gold.json").exists()]
    folders = {}
    for v in chosen:
        folder = out / v.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for p in sources:
            data = v.encode(p.read_text(encoding="utf-8"), p.suffix)
            if data is None:
                continue
            (folder / f"{p.stem}{v.suffix or p.suffix}").write_bytes(data)
            shutil.copy(gold / f"{p.stem}.gold.json", folder / f"{p.stem}.gold.json")
        folders[v.name] = folder
    return folders
