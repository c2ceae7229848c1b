"""Template parser (placeholder)."""

from __future__ import annotations

from nianbao.document import Document
from nianbao.models import Extraction, Meta


def parse_tables(doc: Document, meta: Meta) -> Extraction:
    return Extraction(report=doc.name, meta=meta)
