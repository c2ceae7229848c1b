"""Quantity claims in the prose (placeholder: the narrative extractor replaces this)."""

from __future__ import annotations

from nianbao.document import Document
from nianbao.models import Claim, Extraction


def extract_claims(doc: Document, extraction: Extraction | None = None) -> list[Claim]:
    return []
