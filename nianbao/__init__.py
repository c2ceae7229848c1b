"""nianbao: read 政府信息公开工作年度报告, extract every number, prove which ones contradict each other.

The Python API (the CLI is built on the same calls)::

    import nianbao
    ex = nianbao.extract("report.pdf")            # an Extraction: cells, narrative, findings
    ex.cells["t3.new_received.total"].value
    ex.cells["t3.new_received.total"].value = 12  # edit a reading …
    nianbao.check(ex)                             # … and run the rules again
    store = nianbao.load_store("nianbao.db")      # the store `nianbao run` fills
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["extract", "check", "load_store", "__version__"]

if TYPE_CHECKING:
    from nianbao.models import Extraction
    from nianbao.review.store import Store


def _extract(path: str | Path, backend: str | None = None, **options: Any) -> Extraction:
    """Read one report file and check it: every cell and narrative claim, with the rules' findings.

    `backend` is "rules" (the offline default), "llm" or "hybrid" (default when an LLM endpoint is
    configured); `options` go to the backend (e.g. model=…, provider=…). Raises
    nianbao.extract.IngestError for a file that is not a readable report.
    """
    from nianbao.app.pipeline import process_file
    from nianbao.extract import get_backend
    from nianbao.extract.backends import default_backend

    name = backend or default_backend()
    return process_file(path, get_backend(name, **options) if options else name)


def check(extraction: Extraction, document: Any = None) -> Extraction:
    """Run the rules again on an Extraction (e.g. after editing its cells); returns it with new findings.

    Cells an identity had filled are emptied first, so they are filled again from the current values.
    """
    from nianbao.app.pipeline import check as run_check

    for cell in extraction.cells.values():
        if cell.reader == "identity":
            cell.value = None
    return run_check(document, extraction)


def load_store(db: str | Path = "nianbao.db") -> Store:
    """Open (or create) a store: a SQLite file path or any SQLAlchemy URL."""
    from nianbao.review.store import Store

    return Store(db)


class _ExtractPackage(types.ModuleType):
    """`nianbao.extract` is the extraction package and, called, the API's nianbao.extract(path)."""

    def __call__(self, path: str | Path, backend: str | None = None, **options: Any) -> Extraction:
        return _extract(path, backend, **options)


class _Nianbao(types.ModuleType):
    """When the subpackage nianbao.extract is imported, Python binds it as `nianbao.extract`,
    replacing the function of the same name; it is made callable instead, so both uses hold."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "extract" and isinstance(value, types.ModuleType) and not isinstance(value, _ExtractPackage):
            value.__class__ = _ExtractPackage
        super().__setattr__(name, value)


extract = _extract
extract.__name__ = "extract"
sys.modules[__name__].__class__ = _Nianbao
if "nianbao.extract" in sys.modules:  # imported before this package finished (not the usual order)
    setattr(sys.modules[__name__], "extract", sys.modules["nianbao.extract"])  # noqa: B010
