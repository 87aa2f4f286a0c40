"""The garbage collector around loaded models: keep them out of collections, until unloaded.

Requests allocate many short-lived objects, which trigger collections; each full collection
would otherwise walk every object loaded at start (modules, descriptors, models). `freeze`
moves everything alive into the collector's permanent generation, which is never scanned.
Frozen objects in reference cycles are never freed either, so `refreeze` runs once after a
model version is unloaded: one full collection frees what the version left, and the rest is
frozen again.
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Collect now, then keep everything alive out of later collections."""
    gc.collect()
    gc.freeze()


def refreeze() -> None:
    """Free frozen garbage (an unloaded version's objects), then freeze what is left."""
    gc.unfreeze()
    freeze()
