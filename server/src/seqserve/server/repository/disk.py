"""What the repository folder holds: model and version folders, and their files' fingerprints.

Safe deploys stage a folder elsewhere (e.g. `models/addition/.3-tmp/`, hidden names are
ignored) and `rename` it into place, so a scan never sees half a folder.
"""

from __future__ import annotations

from pathlib import Path

Found = dict[str, list[tuple[int, Path]]]
Fingerprint = tuple[tuple[str, int, int], ...]


def scan(root: Path) -> Found:
    """Model folders and their integer version folders (others are ignored), oldest first."""
    found: Found = {}
    if not root.is_dir():
        return found
    for model in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = [(int(v.name), v) for v in model.iterdir() if v.is_dir() and v.name.isdigit()]
        if versions:
            found[model.name] = sorted(versions)
    return found


def fingerprint(folder: Path) -> Fingerprint | None:
    """Names, sizes and modification times of a folder's files; None when it is gone."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
        return tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in entries)
    except OSError:
        return None
