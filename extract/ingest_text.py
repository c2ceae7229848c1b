"""Plain text and Markdown reports (placeholder decoder; the full reader replaces this)."""

from __future__ import annotations

from pathlib import Path

from nianbao.document import Document


def read(path: Path, data: bytes) -> Document:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        from nianbao.extract.ingest import IngestError
        raise IngestError(path, "cannot be decoded as UTF-8 or GB18030")
    kind = "md" if path.suffix.lower() in (".md", ".markdown") else "txt"
    return Document(name=path.name, kind=kind, text=text, encoding=enc)
