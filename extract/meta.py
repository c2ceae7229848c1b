"""Agency, year and template version (placeholder)."""

from __future__ import annotations

from nianbao.document import Document
from nianbao.models import Meta


def read_meta(doc: Document) -> Meta:
    return Meta()
