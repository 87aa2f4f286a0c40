"""What the repository folder holds: model and version folders, and their files' fingerprints.

Safe deploys stage a folder elsewhere (e.g. `models/addition/.3-tmp/`, hidden names are
ignored) and `rename` it into place, so a scan never sees half a folder.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from seqserve.server.errors import shown

log = logging.getLogger(__name__)

Found = dict[str, list[tuple[int, Path]]]
Odd = dict[str, list[str]]  # per model: folders that are not versions, and why
Fingerprint = tuple[tuple[str, int, int], ...]


MAX_VERSION = 2**31 - 1  # version folders: decimal, no leading zero, 1 to this
VERSION_NAME = re.compile(r"[1-9][0-9]{0,9}")


def version_of(name: str) -> int | None:
    """A version folder's number: ASCII digits without a leading zero, 1 to MAX_VERSION."""
    if VERSION_NAME.fullmatch(name) is None or int(name) > MAX_VERSION:
        return None
    return int(name)


def scan(root: Path) -> Found:
    """Model folders and their version folders, oldest first (hidden ones are skipped)."""
    return scan_folders(root)[0]


def scan_folders(root: Path) -> tuple[Found, Odd]:
    """`scan`, and per model the folders that are not versions (named `01`, `²` or
    `99999999999999999999`), so a careless deploy is reported, not read as another
    version or a reason to stop."""
    found: Found = {}
    odd: Odd = {}
    if not root.is_dir():
        return found, odd
    try:
        models = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        log.error("cannot list the model repository: %s", exc.strerror)
        return found, odd
    for model in models:
        try:
            folders = sorted(v for v in model.iterdir() if v.is_dir())
        except OSError as exc:
            log.error("cannot list model folder %s: %s", shown(model.name), exc.strerror)
            continue
        versions: list[tuple[int, Path]] = []
        for folder in folders:
            if folder.name.startswith("."):
                continue
            number = version_of(folder.name)
            if number is None:
                odd.setdefault(model.name, []).append(
                    f"folder {shown(folder.name, 40)!r} ignored: version folders are named "
                    f"by a decimal number 1-{MAX_VERSION} without leading zeros"
                )
            else:
                versions.append((number, folder))
        if versions:
            found[model.name] = sorted(versions)
    return found, odd


def fingerprint(folder: Path) -> Fingerprint | None:
    """Names, sizes and modification times of a folder's files; None when it is gone."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
        return tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in entries)
    except OSError:
        return None
