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
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from charset_normalizer import from_bytes

from nianbao.document import Document, ReaderNote
from nianbao.extract.ingest_limits import LIMITS, damage_allowance

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


@dataclass
class Decoded:
    """Text decoded from a file's bytes, and where bytes were damaged."""

    text: str
    encoding: str
    # byte offsets (in the file) of bytes no decoding explains; each undecodable sequence (or NUL
    # byte) is one U+FFFD in `text`, at the matching entry of `replaced`
    damaged: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)  # index in `text` of each U+FFFD put in


class _TooDamaged(Exception):
    pass


_RECORDING = threading.local()


def _gb_score(data: bytes, pos: int) -> int:
    """How much the next few characters from `pos` read like GB text: ASCII, punctuation and the
    common (level-1) hanzi score, replacement and private-use characters cost."""
    score = 0
    for ch in data[pos:pos + 10].decode("gb18030", errors="replace")[:4]:
        if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff":
            score -= 1
        elif ch.isascii():
            score += 1
        else:
            try:
                lead = ch.encode("gb2312")[0]
            except UnicodeEncodeError:
                continue
            score += 0xA1 <= lead <= 0xA3 or 0xB0 <= lead <= 0xD7
    return score


def _high_run(data: bytes, pos: int, reach: int = 4096) -> int | None:
    """Length of the run of non-ASCII bytes from pos (None when longer than reach)."""
    n = 0
    while pos + n < len(data) and data[pos + n] >= 0x80:
        n += 1
        if n > reach:
            return None
    return n


def _gb_orphan(data: bytes, pos: int) -> bool:
    """Whether the byte at pos is the orphaned second byte of a damaged GB character.

    Between two ASCII bytes GBK text is pairs of bytes, so the right place to resume leaves an
    even run of non-ASCII bytes; where that does not decide, the reading that looks more like
    GB text does."""
    here, after = _high_run(data, pos), _high_run(data, pos + 1)
    if here is not None and after is not None and here % 2 != after % 2:
        return after % 2 == 0
    return _gb_score(data, pos + 1) > _gb_score(data, pos)


def _record_error(e: UnicodeError) -> tuple[str, int]:
    """Codec error handler: replace like "replace", but remember each error's byte range, and
    give up as soon as more bytes are damaged than the file may have. Adjacent undecodable bytes
    (the rest of one broken character) become one U+FFFD.

    In GB text a damaged lead byte leaves its trail byte behind, which would pair with the next
    character's lead byte and garble the rest of the run; when skipping that orphan reads better,
    it is skipped (it belongs to the same damaged character)."""
    if not isinstance(e, UnicodeDecodeError):
        raise e
    end = e.end
    data = e.object
    if _RECORDING.gb and end - e.start == 1 and end < len(data):
        if data[end] >= 0x80 and _gb_orphan(data, end):
            end += 1
        elif data[end] not in _WHITESPACE and end + 1 < len(data) and data[end + 1] >= 0x80 \
                and (_high_run(data, end + 1) or 1) % 2 == 0:
            end += 1  # a second byte damaged into ASCII (a flipped top bit): part of the same character
    errors: list[tuple[int, int]] = _RECORDING.errors
    _RECORDING.count += end - e.start
    if _RECORDING.count > _RECORDING.limit:
        raise _TooDamaged
    if errors and errors[-1][1] == e.start:  # the same damaged character: one U+FFFD for all of it
        errors[-1] = (errors[-1][0], end)
        return "", end
    errors.append((e.start, end))
    return "\ufffd", end


codecs.register_error("nianbao.record", _record_error)


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


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_WHITESPACE = frozenset(b" \t\r\n\x0b\x0c")


def _pair_score(a: int, b: int) -> int:
    """How much two bytes look like one GB character: common hanzi best, then other GB2312
    characters, then GBK's extensions; impossible or user-defined (private-use) pairs cost."""
    if not (0x81 <= a <= 0xFE) or b < 0x40 or b in (0x7F, 0xFF):
        return -4
    if b >= 0xA1:
        if 0xB0 <= a <= 0xD7:
            return 2  # GB2312 level 1: the common hanzi
        if 0xA1 <= a <= 0xA9 or 0xD8 <= a <= 0xF7:
            return 1  # GB2312 symbols and level-2 hanzi
        if 0xAA <= a <= 0xAF or a >= 0xF8:
            return -4  # user-defined areas: never report text
        return 0
    return -4 if 0xA1 <= a <= 0xA7 else 0  # user-defined, else a GBK extension character


def _extra_byte(data: bytes, s: int, e: int) -> int:
    """In an odd run of non-ASCII bytes data[s:e] (one byte too many: an ASCII byte damaged into
    a high one), the byte whose removal leaves the best-reading pairs on both sides (linear)."""
    prefix = [0]
    for i in range(s, e - 1, 2):
        prefix.append(prefix[-1] + _pair_score(data[i], data[i + 1]))
    suffix = [0]
    for j in range(e - 2, s, -2):
        suffix.append(suffix[-1] + _pair_score(data[j], data[j + 1]))
    # removing data[s + 2k] leaves k pairs before it and (len - 1 - 2k) / 2 pairs after it
    n_pairs = (e - s - 1) // 2
    best = max(range(n_pairs + 1), key=lambda k: prefix[k] + suffix[n_pairs - k])
    return s + 2 * best


def _four_byte(data: bytes, i: int) -> bool:
    """Whether a GB18030 four-byte character (high, digit, high, digit) starts at i."""
    return (i >= 0 and i + 3 < len(data) and 0x81 <= data[i] <= 0xFE and 0x30 <= data[i + 1] <= 0x39
            and 0x81 <= data[i + 2] <= 0xFE and 0x30 <= data[i + 3] <= 0x39)


def _gb_realign(data: bytes, reach: int = 4096) -> bytes:
    """GB text whose byte pairs lost their alignment without a decoding error: made undecodable at
    the damaged place (same length, so offsets hold) for the error handler to report.

    Between ASCII bytes GB text is pairs of bytes. A character's first byte damaged into ASCII (a
    flipped top bit) leaves an ASCII byte between an even run and an odd one: both bytes of that
    character are marked. An ASCII byte damaged into a high one makes its run odd: the byte whose
    removal reads best is marked. Odd runs that something explains (a GBK character whose second
    byte is in the ASCII range, GB18030's four-byte characters) are left alone."""
    runs = [(m.start(), m.end()) for m in _HIGH_RUN.finditer(data)]
    out: bytearray | None = None
    n = len(data)
    for k, (s, e) in enumerate(runs):
        if (e - s) % 2 == 0 or e - s > reach:
            continue
        if e < n and 0x40 <= data[e] <= 0x7E:
            continue  # completed by a GBK character's ASCII-range second byte
        if _four_byte(data, e - 1) or (s >= 2 and _four_byte(data, s - 2)):
            continue  # GB18030's four-byte characters: byte, digit, byte, digit
        out = out if out is not None else bytearray(data)
        prev = runs[k - 1] if k else None
        if prev and prev[1] == s - 1 and (prev[1] - prev[0]) % 2 == 0 and data[s - 1] not in _WHITESPACE:
            out[s - 1:s + 1] = b"\xff\xff"  # a first byte turned ASCII
        else:
            out[_extra_byte(data, s, e)] = 0xFF
    return bytes(out) if out is not None else data


def _damaged(data: bytes, encoding: str, limit: int, base: int = 0) -> Decoded | None:
    """Decode with each undecodable sequence replaced by U+FFFD, or None when more than `limit`
    bytes are damaged. Linear: the handler runs once per error and stops at the limit."""
    _RECORDING.errors, _RECORDING.count, _RECORDING.limit = [], 0, limit
    _RECORDING.gb = encoding.replace("-", "").lower() in ("gb18030", "gbk", "gb2312", "cp936")
    if _RECORDING.gb:
        data = _gb_realign(data)
    try:
        text = data.decode(encoding, errors="nianbao.record")
    except (_TooDamaged, LookupError):
        return None
    finally:
        errors, _RECORDING.errors = _RECORDING.errors, []
    damaged: list[int] = []
    replaced: list[int] = []
    pos = prev = 0
    for start, end in errors:
        # the text between two errors decodes on its own to the same characters
        pos += len(data[prev:start].decode(encoding, errors="replace"))
        replaced.append(pos)
        damaged.extend(range(base + start, base + end))
        pos += 1
        prev = end
    return Decoded(text, f"{encoding} (damaged bytes replaced)" if errors else encoding, damaged, replaced)


def _utf16_by_nuls(data: bytes, limit: int) -> Decoded | None:
    """UTF-16 without a BOM: text has NUL bytes (the high byte of every ASCII character, and
    of CJK characters such as 一 U+4E00); read both byte orders and keep the one that reads as
    text, so a report of mostly Chinese with few ASCII characters is still recognised."""
    if data[:_SAMPLE].count(0) < 2:
        return None
    even = data[: len(data) - len(data) % 2]
    best: tuple[float, Decoded] | None = None
    for enc in ("utf-16-le", "utf-16-be"):
        got = _damaged(even, enc, limit)
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


def _looks_binary(data: bytes) -> str | None:
    """A reason when the bytes are not text. A few NULs are damage (a flipped byte), not binary."""
    sample = data[:_SAMPLE]
    if sample.count(0) > 8:
        return "looks binary (contains NUL bytes), not a text report"
    controls = sum(1 for b in sample if (b < 32 and b not in _TEXT_CONTROLS) or b == 127)
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
        got = _damaged(data[skip:], enc, limit, base=skip)
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
    decoded = [got for enc in candidates if (got := _damaged(data, enc, limit)) is not None]
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


def damage_message(decoded: Decoded) -> str:
    """The reviewer's sentence for a file's damaged bytes: how many, and where (byte offsets)."""
    ranges: list[list[int]] = []
    for b in decoded.damaged:
        if ranges and b == ranges[-1][1] + 1:
            ranges[-1][1] = b
        else:
            ranges.append([b, b])
    shown = "、".join(str(a) if a == b else f"{a}–{b}" for a, b in ranges[:LIMITS.max_reported_offsets])
    more = " 等" if len(ranges) > LIMITS.max_reported_offsets else ""
    return (f"文件中有 {len(ranges)} 处共 {len(decoded.damaged)} 个字节无法按 {decoded.encoding.split(' ')[0]} 解码"
            f"（字节偏移 {shown}{more}），已替换为“\ufffd”后继续读取；这些位置的文字或数字可能缺失，请对照原件核对")


def damage_note(decoded: Decoded, doc: Document) -> ReaderNote | None:
    """The note a reader adds to its Document when bytes were damaged: the message gives byte
    offsets in the file, the spans the U+FFFD characters in the text the extractor reads."""
    if not decoded.damaged:
        return None
    wanted = set(decoded.replaced)
    text = doc.text
    spans: list[tuple[int, int]] = []
    for i, o in enumerate(doc.offsets[:len(text)]):
        if o in wanted and text[i] == "\ufffd":
            if spans and spans[-1][1] == i:
                spans[-1] = (spans[-1][0], i + 1)
            else:
                spans.append((i, i + 1))
    return ReaderNote("damaged_bytes", "ocr", damage_message(decoded), tuple(spans))
