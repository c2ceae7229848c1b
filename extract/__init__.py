"""Extraction: files become Documents (ingest) and Documents become Extractions (backends).

Nothing here imports rules/, review/ or eval/: data flows one way.
"""

from nianbao.extract.backends import available_backends, get_backend
from nianbao.extract.ingest import IngestError, read_document

__all__ = ["IngestError", "available_backends", "get_backend", "read_document"]
