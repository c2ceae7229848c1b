"""Shared helpers for the rules tests: gold fixtures as Extractions, and running the rules."""

from __future__ import annotations

import json
from pathlib import Path

from nianbao.document import Document
from nianbao.models import Extraction, Finding
from nianbao.rules import run_rules

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples" / "reports"
PDF_GOLD = ROOT.parent / "shared" / "reports" / "pdf"


def gold_names() -> list[str]:
    return sorted(p.name.removesuffix(".gold.json") for p in FIXTURES.glob("*.gold.json"))


def gold(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.gold.json").read_text(encoding="utf-8"))


def all_golds() -> list[dict]:
    """The seeds' gold, plus the real PDFs' gold when ../shared is beside the repository."""
    out = [gold(n) for n in gold_names()]
    if PDF_GOLD.is_dir():
        out += [json.loads(p.read_text(encoding="utf-8")) for p in sorted(PDF_GOLD.glob("*.gold.json"))]
    return out


def extraction(data: dict) -> Extraction:
    return Extraction.from_contract(data)


def run(ex: Extraction, doc: Document | None = None) -> list[Finding]:
    return run_rules(doc, ex)


def serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("error", "warning")]


def allowed_categories(data: dict) -> set[str]:
    fs = data.get("findings") or {}
    return {f["category"] for f in fs.get("expected", [])} | {f["category"] for f in fs.get("acceptable", [])}


def seed_doc(name: str) -> Document:
    text = (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    return Document(name=f"{name}.txt", kind="txt", text=text)
