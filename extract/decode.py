"""Bytes → text for every text-like report (plain text, Markdown, HTML).

Government reports come as UTF-8 (with or without BOM), GB2312/GBK/GB18030, and UTF-16 from
Windows tools (often without a BOM). Binary files and bytes no encoding explains are refused
with a one-line reason rather than decoded into mojibake the extractor would read as text.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels a page may declare that are better read as their superset.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
              "iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "utf-8", "us-ascii": "utf-8"}
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v")
_SAMPLE = 1 << 16


class DecodeError(ValueError):
    """Why the bytes are not text; the reader turns it into IngestError(path, reason)."""


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, (0 if enc == "utf-8-sig" else len(bom))
    return None


def _utf16_by_nuls(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII characters leave their NUL byte on one side of every pair
    (CJK characters ending in 00, such as 一 U+4E00, put a few on the other side)."""
    sample = data[:_SAMPLE]
    n = len(sample) - len(sample) % 2
    even, odd = sample[0:n:2].count(0), sample[1:n:2].count(0)
    if even + odd < 2:
        return None
    if odd >= 0.7 * (even + odd):
        return "utf-16-le"
    if even >= 0.7 * (even + odd):
        return "utf-16-be"
    return None


def _is_chinese_text(ch: str) -> bool:
    """CJK ideographs and punctuation, full-width forms, and the symbols Chinese documents use
    (quotes, dashes, ①, Ⅱ, ℃, box drawing, ■ ★ bullets)."""
    cp = ord(ch)
    return (0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x3000 <= cp <= 0x303F
            or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF or 0x2000 <= cp <= 0x27BF
            or cp in (0x00B7, 0x00D7, 0x00F7, 0x00B0, 0x00A7))


def _plausible(text: str) -> bool:
    """Decoded text that reads as text: few controls or unassigned code points, and either
    mostly ASCII or mostly Chinese among the rest (mojibake is neither)."""
    if not text:
        return True
    sample = text[:_SAMPLE]
    bad = sum(1 for ch in sample
              if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    if bad > max(2, len(sample) // 200):
        return False
    wide = [ch for ch in sample if ord(ch) > 127]
    if len(wide) <= len(sample) // 10:
        return True
    return sum(1 for ch in wide if _is_chinese_text(ch)) >= 0.6 * len(wide)


def _looks_binary(data: bytes) -> str | None:
    sample = data[:_SAMPLE]
    if 0 in sample:
        return "looks binary (contains NUL bytes), not a text report"
    controls = sum(1 for b in sample if (b < 32 and b not in _TEXT_CONTROLS) or b == 127)
    if controls > max(4, len(sample) // 20):
        return "looks binary (mostly control bytes), not a text report"
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _nearly(data: bytes, encoding: str) -> str | None:
    """Text with a handful of broken bytes (a crawler cut a character, one bad sector):
    decoded with U+FFFD in their place rather than refused."""
    text = data.decode(encoding, errors="replace")
    errors = text.count("\ufffd")
    return text if errors <= max(1, len(data) // 5000) else None


def normalise_label(label: str | None) -> str | None:
    """A declared charset label as a Python codec name (its superset where one exists)."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    name = _SUPERSETS.get(label, label)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding used). BOM first, then a declared charset, then detection.

    Raises DecodeError with a one-line reason for binary or undecodable bytes.
    """
    bom = _bom(data)
    if bom:
        enc, skip = bom
        text = _strict(data[skip:], enc)
        if text is None:
            raise DecodeError(f"starts with a {enc} byte-order mark but is not valid {enc}")
        return text, enc
    utf16 = _utf16_by_nuls(data)
    if utf16:
        text = _strict(data[: len(data) - len(data) % 2], utf16)
        if text is not None and _plausible(text):
            return text, utf16
    reason = _looks_binary(data)
    if reason:
        raise DecodeError(reason)
    declared = normalise_label(declared)
    if declared:
        text = _strict(data, declared)
        if text is not None and _plausible(text):
            return text, declared
    for enc in ("utf-8", "gb18030"):
        text = _strict(data, enc)
        if text is not None and _plausible(text):
            return text, enc
    best = from_bytes(data[:_SAMPLE * 4]).best()
    if best is not None and best.encoding:
        text = _strict(data, best.encoding)
        if text is not None and _plausible(text):
            return text, best.encoding
    for enc in ("utf-8", "gb18030"):
        text = _nearly(data, enc)
        if text is not None and _plausible(text):
            return text, f"{enc} (damaged bytes replaced)"
    raise DecodeError("cannot be decoded: not UTF-8, GB18030/GBK or UTF-16 text")


def decode_file(path: Path, data: bytes, declared: str | None = None) -> tuple[str, str]:
    """decode() that raises IngestError naming the file."""
    from nianbao.extract.ingest import IngestError

    try:
        return decode(data, declared)
    except DecodeError as e:
        raise IngestError(path, str(e)) from None
