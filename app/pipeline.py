"""The whole flow for one report: read the file, extract with a backend, run the rules.

The `*_task` functions are what the runner (app/runner.py) runs in a worker per file: each
returns plain data (text, bytes, dicts) so the parent does no parsing of its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from nianbao.document import Document
from nianbao.errors import BackendError, printable
from nianbao.extract import get_backend, read_document
from nianbao.extract.backends import Backend
from nianbao.models import Extraction, Finding
from nianbao.rules import apply_fills, run_rules

LOCAL_BACKENDS = {"rules"}  # CPU-bound backends: one process per core, with limits


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


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name; a name or configuration it cannot use is a BackendError (exit 2)."""
    try:
        return get_backend(name, **options)
    except (ValueError, RuntimeError) as e:
        raise BackendError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None


def isolates(backend: str | Backend) -> bool:
    """Whether a backend's files run in worker processes (local, CPU-bound) or threads (network)."""
    name = backend if isinstance(backend, str) else getattr(backend, "name", "")
    return name in LOCAL_BACKENDS


def default_workers(backend: str | Backend) -> int:
    """Every core for a local backend; for a network one, the endpoint's own concurrency (its client
    never has more calls in flight, so more reports at once would only queue), else 4."""
    import os

    if isolates(backend):
        return os.cpu_count() or 1
    cfg = getattr(getattr(backend, "reader", None), "cfg", None) or getattr(backend, "cfg", None)
    n = getattr(cfg, "concurrency", None)
    return n if isinstance(n, int) and n > 0 else 4


def process_document(doc: Document, backend: Backend | str = "rules") -> Extraction:
    be = get_backend(backend) if isinstance(backend, str) else backend
    started = time.perf_counter()
    extraction = check(doc, be.extract(doc))
    extraction.usage.setdefault("seconds", round(time.perf_counter() - started, 4))
    extraction.report = printable(extraction.report)  # a name the OS gave as bytes, escaped
    return extraction


def process_file(path: str | Path, backend: Backend | str = "rules") -> Extraction:
    """Extraction with findings for one file; raises IngestError for a file that is not a report."""
    return process_document(read_document(path), backend)


def dumps(doc: Any, indent: int | None = None) -> str:
    """JSON as nianbao writes it: compact unless an indent is asked for, never NaN or Infinity."""
    if indent is None:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return json.dumps(doc, ensure_ascii=False, indent=indent, allow_nan=False)


def error_count(ex: Extraction) -> int:
    return sum(1 for f in ex.findings if f.severity == "error")


def contract_task(path: Path, backend: Backend, indent: int | None = None) -> tuple[str, int, str | None]:
    """`nianbao extract`'s work for one file: the contract JSON text, its number of error findings, and
    why the model was not consulted (hybrid's fallback), if it was not."""
    ex = process_file(path, backend)
    return dumps(ex.to_contract(), indent), error_count(ex), ex.usage.get("llm_error") or None


def model_task(path: Path, backend: Backend) -> str:
    """The whole Extraction as JSON (for `--format table`, which prints from the model)."""
    return process_file(path, backend).model_dump_json()


def prediction_task(path: Path, backend: Backend) -> dict[str, Any]:
    """The eval harness's work for one file: its output contract."""
    return process_file(path, backend).to_contract()
