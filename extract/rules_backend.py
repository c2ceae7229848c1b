"""The embedded default backend: the template parser for tables, patterns for the narrative."""

from __future__ import annotations

from nianbao.document import Document
from nianbao.extract.narrative.claims import extract_claims, extract_facts
from nianbao.extract.narrative.meta import read_meta
from nianbao.extract.parse.template_parser import parse_tables
from nianbao.models import Extraction


class RulesBackend:
    name = "rules"

    def __init__(self, **_: object) -> None:
        pass

    def extract(self, doc: Document) -> Extraction:
        meta = read_meta(doc)
        ex = parse_tables(doc, meta)
        ex.narrative = extract_claims(doc, ex)
        ex.facts = extract_facts(doc, ex)
        ex.backend = self.name
        return ex
