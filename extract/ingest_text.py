"""Plain text and Markdown reports → Document.

The decoded file is the Document's source; the extractor reads its normalised text, and
every character of that text maps back to its place in the decoded file.
"""

from __future__ import annotations

from pathlib import Path

from nianbao.document import Document
from nianbao.extract.decode import damage_note, decode_file
from nianbao.extract.normalise import normalise

_MARKDOWN = (".md", ".markdown")


def read(path: Path, data: bytes) -> Document:
    """Decode (UTF-8/GB18030/UTF-16, detected), normalise, keep the offset map; damaged bytes
    are replaced and noted."""
    decoded = decode_file(path, data)
    kind = "md" if path.suffix.lower() in _MARKDOWN else "txt"
    doc = normalise(decoded.text).document(path.name, kind, decoded.text, decoded.encoding)
    note = damage_note(decoded, doc)
    if note:
        doc.notes.append(note)
    return doc
