"""Model repository: scanning, checks, loading and version resolution."""

from seqserve.server.repository.checks import LoadError
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.repository.registry import ModelState, Repository, scan

__all__ = ["LoadError", "ModelState", "ModelVersion", "Repository", "load_version", "scan"]
