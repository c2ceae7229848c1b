"""Damaged bytes in a text report: decoded anyway, each damaged character one U+FFFD, and where.

A crawler cut a character, a bit flipped on a disk, a NUL crept in: a handful of bytes no encoding
explains. They must not cost the whole report (issue 11): the decoder replaces them, remembers
their byte offsets, and the reader turns them into a finding a reviewer can check against the
original. In GB text a damaged byte can also shift how the following bytes pair up; the
realignment here finds where, so the damage stays one character wide.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass, field

from nianbao.document import Document, ReaderNote
from nianbao.extract.ingest.limits import LIMITS


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


def decode_damaged(data: bytes, encoding: str, limit: int, base: int = 0) -> Decoded | None:
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
