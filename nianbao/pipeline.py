"""The whole flow for one report: read the file, extract with a backend, run the rules."""

from __future__ import annotations

import time
from pathlib import Path

from nianbao.document import Document
from nianbao.extract import get_backend, read_document
from nianbao.extract.backends import Backend
from nianbao.models import Extraction, Finding
from nianbao.rules import apply_fills, run_rules


def reader_findings(doc: Document) -> list[Finding]:
    """What the reader changed or left out of the file (damaged bytes replaced, a page not OCR'd,
    a table read without its spans), one finding each, rule `ingest.<kind>`."""
    return [Finding(category=n.category, rule=f"ingest.{n.kind}", severity="warning", message=n.message,
                    spans=[doc.span(s, e) for s, e in n.spans]) for n in doc.notes]


def check(doc: Document | None, extraction: Extraction) -> Extraction:
    """Run the rules, apply the fills identities force, and attach the findings.

    The reader's findings come first, then findings a backend made itself (e.g. hybrid's
    disagreements), then the rules'. Without a Document (a re-check), earlier reader findings stay.
    """
    own = [f for f in extraction.findings if f.rule.startswith(f"{extraction.backend}.")]
    read = reader_findings(doc) if doc is not None else [
        f for f in extraction.findings if f.rule.startswith("ingest.")]
    findings = run_rules(doc, extraction)
    apply_fills(extraction, findings)
    extraction.findings = read + own + findings
    return extraction


def process_document(doc: Document, backend: Backend | str = "rules") -> Extraction:
    be = get_backend(backend) if isinstance(backend, str) else backend
    started = time.perf_counter()
    extraction = check(doc, be.extract(doc))
    extraction.usage.setdefault("seconds", round(time.perf_counter() - started, 4))
    return extraction


def process_file(path: str | Path, backend: Backend | str = "rules") -> Extraction:
    """Extraction with findings for one file; raises IngestError for a file that is not a report."""
    return process_document(read_document(path), backend)
