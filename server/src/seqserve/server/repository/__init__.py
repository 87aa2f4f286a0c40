"""Model repository: scanning, checks, loading, hot reload, unloading and version resolution."""

from seqserve.server.repository.checks import LoadError
from seqserve.server.repository.disk import scan
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.repository.registry import Changes, ModelState, Repository

__all__ = [
    "Changes",
    "LoadError",
    "ModelState",
    "ModelVersion",
    "Repository",
    "load_version",
    "scan",
]
