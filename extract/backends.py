"""The extraction backends behind one interface: Document in, Extraction out."""

from __future__ import annotations

import importlib
from typing import Protocol

from nianbao.document import Document
from nianbao.models import Extraction

# name → "module:factory" inside nianbao.extract; a factory takes keyword options
BACKENDS: dict[str, str] = {
    "rules": "rules_backend:RulesBackend",
    "llm": "llm.backend:LLMBackend",
    "hybrid": "hybrid:HybridBackend",
}


class Backend(Protocol):
    name: str

    def extract(self, doc: Document) -> Extraction: ...


def default_backend() -> str:
    """hybrid when an LLM endpoint is configured (env or config file), else the embedded rules."""
    from nianbao.extract.llm.config import endpoint_configured

    return "hybrid" if endpoint_configured() else "rules"


def available_backends() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str, **options: object) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    module_name, factory = BACKENDS[name].split(":")
    module = importlib.import_module(f"nianbao.extract.{module_name}")
    return getattr(module, factory)(**options)
