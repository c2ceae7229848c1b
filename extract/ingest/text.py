"""Plain text and Markdown reports → Document.

The decoded file is the Document's source; the extractor reads its normalised text, and
every character of that text maps back to its place in the decoded file.
"""

from __future__ import annotations

from pathlib import Path

from nianbao.document import Document, ReaderNote
from nianbao.extract.ingest.decode import damage_note, decode_file
from nianbao.extract.ingest.limits import LIMITS
from nianbao.extract.ingest.normalise import normalise

_MARKDOWN = (".md", ".markdown")


def _prefix(data: bytes, size: int) -> bytes:
    """The first `size` bytes or a little fewer, ending between characters in any encoding we read:
    after a byte below 0x40 (no UTF-8 or GB18030 multi-byte character holds one), on an even length
    for UTF-16."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data[: size - size % 2]
    head = data[:size]
    for i in range(len(head) - 1, max(-1, len(head) - 64), -1):
        if head[i] < 0x40:
            return head[: i + 1]
    return head


def read(path: Path, data: bytes) -> Document:
    """Decode (UTF-8/GB18030/UTF-16, detected), normalise, keep the offset map; damaged bytes
    are replaced and noted. Only the first LIMITS.max_text_chars characters of a huge file are read."""
    limit = LIMITS.max_text_chars
    cut = len(data) > 4 * limit  # no encoding spends more than 4 bytes on a character
    decoded = decode_file(path, _prefix(data, 4 * limit) if cut else data)
    text = decoded.text
    truncated = len(text) > limit
    if truncated:
        text = text[:limit]
    kind = "md" if path.suffix.lower() in _MARKDOWN else "txt"
    doc = normalise(text).document(path.name, kind, text, decoded.encoding)
    note = damage_note(decoded, doc)
    if note:
        doc.notes.append(note)
    if truncated:
        doc.notes.append(ReaderNote("text_truncated", "structure",
                                    f"文件过长（约 {len(data) / (1 << 20):,.1f} MB），只读取了前 {limit:,} 个字符；"
                                    "年度报告不会这么长，请确认文件内容"))
    return doc
