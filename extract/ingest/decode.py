"""Bytes → text for every text-like report (plain text, Markdown, HTML).

Government reports come as UTF-8 (with or without BOM), GB2312/GBK/GB18030, and UTF-16 from
Windows tools (often without a BOM). Binary files and bytes no encoding explains are refused
with a one-line reason rather than decoded into mojibake the extractor would read as text.

A handful of damaged bytes (a crawler cut a character, a flipped bit, a stray NUL) do not refuse a
report: the encoding that explains the bytes with the fewest errors is used, each undecodable
byte sequence becomes U+FFFD, and the byte offsets are kept (Decoded.damaged) so the reader can
report them. How many are tolerated is extract.ingest_limits (max_damaged_fraction).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

from nianbao.extract.ingest.decode_damage import Decoded, damage_message, damage_note, decode_damaged
from nianbao.extract.ingest.limits import damage_allowance

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
_SAMPLE = 1 << 13  # enough text to judge an encoding; reports run to tens of thousands of characters


class DecodeError(ValueError):
    """Why the bytes are not text; the reader turns it into IngestError(path, reason)."""


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, (0 if enc == "utf-8-sig" else len(bom))
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf16_by_nuls(data: bytes, limit: int) -> Decoded | None:
    """UTF-16 without a BOM: text has NUL bytes (the high byte of every ASCII character, and
    of CJK characters such as 一 U+4E00); read both byte orders and keep the one that reads as
    text, so a report of mostly Chinese with few ASCII characters is still recognised."""
    if data[:_SAMPLE].count(0) < 2:
        return None
    even = data[: len(data) - len(data) % 2]
    best: tuple[float, Decoded] | None = None
    for enc in ("utf-16-le", "utf-16-be"):
        got = decode_damaged(even, enc, limit)
        if got is None or not _plausible(got.text):
            continue
        sample = got.text[:_SAMPLE]
        score = sum(1 for ch in sample if (" " <= ch <= "~") or ch in "\t\n\r" or _is_chinese_text(ch)) / max(1, len(sample))
        if score >= 0.9 and (best is None or (len(got.damaged), -score) < (len(best[1].damaged), -best[0])):
            best = (score, got)
    return best[1] if best else None


def _is_chinese_text(ch: str) -> bool:
    """CJK ideographs and punctuation, full-width forms, and the symbols Chinese documents use
    (quotes, dashes, ①, Ⅱ, ℃, box drawing, ■ ★ bullets)."""
    cp = ord(ch)
    return (0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x3000 <= cp <= 0x303F
            or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF or 0x2000 <= cp <= 0x27BF
            or cp in (0x00B7, 0x00D7, 0x00F7, 0x00B0, 0x00A7))


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_WIDE = re.compile(r"[^\x00-\x7f]")
_CHINESE = re.compile("[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\U00020000-\U0003ffff"
                      "\u2000-\u27bf\u00b7\u00d7\u00f7\u00b0\u00a7]")


def _plausible(text: str) -> bool:
    """Decoded text that reads as text: few controls or unassigned code points, and either
    mostly ASCII or mostly Chinese among the rest (mojibake is neither)."""
    if not text:
        return True
    sample = text[:_SAMPLE]
    wide = _WIDE.findall(sample)
    chinese = len(_CHINESE.findall(sample))
    # unassigned/private/surrogate code points can only be among the non-Chinese wide characters
    odd = [ch for ch in wide if not _CHINESE.match(ch)] if len(wide) > chinese else []
    bad = len(_CONTROL.findall(sample)) + sum(1 for ch in odd if unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    if bad > max(2, len(sample) // 200):
        return False
    if len(wide) <= len(sample) // 10:
        return True
    return chinese >= 0.6 * len(wide)


_BINARY_CONTROLS = bytes(b for b in [*range(32), 127] if b not in _TEXT_CONTROLS)


def _looks_binary(data: bytes) -> str | None:
    """A reason when the bytes are not text. A few NULs are damage (a flipped byte), not binary."""
    sample = data[:_SAMPLE]
    if sample.count(0) > 8:
        return "looks binary (contains NUL bytes), not a text report"
    controls = len(sample) - len(sample.translate(None, _BINARY_CONTROLS))  # counted in C, not per byte
    if controls > max(4, len(sample) // 20):
        return "looks binary (mostly control bytes), not a text report"
    return None


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


def _nuls_as_damage(got: Decoded, data: bytes) -> Decoded:
    """NUL bytes inside text (a flipped byte; never report text) become U+FFFD, reported as damage.

    Only for encodings where a NUL byte is a NUL character (UTF-8, GB18030 and other ASCII
    supersets), so the byte offset and the character are the same NUL."""
    if "\x00" not in got.text:
        return got
    text = got.text
    chars = [i for i, ch in enumerate(text) if ch == "\x00"]
    nul_bytes = [i for i, b in enumerate(data) if b == 0]
    damaged = sorted([*got.damaged, *nul_bytes])
    replaced = sorted([*got.replaced, *chars])
    encoding = got.encoding if got.encoding.endswith("replaced)") else f"{got.encoding} (damaged bytes replaced)"
    return Decoded(text.replace("\x00", "\ufffd"), encoding, damaged, replaced)


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """The text and the encoding used. BOM first, then UTF-16 and UTF-8 (unmistakable when
    valid), then a declared charset, then GB18030 and charset-normalizer's detection; when no
    encoding reads every byte, the one that explains all but the fewest (within the limit).

    Raises DecodeError with a one-line reason for binary or undecodable bytes.
    """
    limit = damage_allowance(len(data))
    bom = _bom(data)
    if bom:
        enc, skip = bom
        text = _strict(data[skip:], enc)
        if text is not None:
            return Decoded(text, enc)
        got = decode_damaged(data[skip:], enc, limit, base=skip)
        if got is not None and _plausible(got.text):
            return got
        raise DecodeError(f"starts with a {enc} byte-order mark but is not valid {enc}")
    utf16 = _utf16_by_nuls(data, limit)
    if utf16:
        return utf16
    if data.endswith(b"\x00") and 0 not in data.rstrip(b"\x00")[:_SAMPLE]:
        data = data.rstrip(b"\x00")  # a fixed-size buffer's padding after the text
    reason = _looks_binary(data)
    if reason:
        raise DecodeError(reason)
    # Valid UTF-8 is all but never an accident, so it wins even over a page's declaration
    # (sites that moved to UTF-8 often kept their old <meta charset=gb2312>).
    candidates = ["utf-8"]
    declared = normalise_label(declared)
    if declared and declared not in candidates:
        candidates.append(declared)
    if "gb18030" not in candidates:
        candidates.append("gb18030")
    for enc in candidates:
        text = _strict(data, enc)
        if text is not None and _plausible(text):
            return _nuls_as_damage(Decoded(text, enc), data)
    best = from_bytes(data[:_SAMPLE * 4]).best()
    if best is not None and best.encoding:
        enc = normalise_label(best.encoding) or best.encoding
        text = _strict(data, enc)
        if text is not None and _plausible(text):
            return _nuls_as_damage(Decoded(text, enc), data)
        if enc not in candidates:
            candidates.append(enc)
    # Damaged bytes: the encoding that explains all but the fewest bytes (earlier ones win ties)
    decoded = [got for enc in candidates if (got := decode_damaged(data, enc, limit)) is not None]
    readings = [got for got in decoded if _plausible(got.text)]
    if readings:
        return _nuls_as_damage(min(readings, key=lambda g: len(g.damaged)), data)
    why = "it reads only as mojibake" if decoded else f"more than {limit} of its bytes fit none of them"
    raise DecodeError(f"cannot be decoded: not UTF-8, GB18030/GBK or UTF-16 text ({why})")


def decode_file(path: Path, data: bytes, declared: str | None = None) -> Decoded:
    """decode() that raises IngestError naming the file."""
    from nianbao.extract.ingest import IngestError

    try:
        return decode(data, declared)
    except DecodeError as e:
        raise IngestError(path, str(e)) from None


__all__ = ["DecodeError", "Decoded", "damage_message", "damage_note", "decode", "decode_file"]
