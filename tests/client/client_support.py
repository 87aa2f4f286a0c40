"""Helpers of the client tests: CLI results and model repositories of their own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seqserve.contract.manifest import read_manifest, write_manifest

SEQSERVE = str(Path(sys.executable).with_name("seqserve"))


@dataclass
class Completed:
    code: int
    out: str
    err: str


CLI = Callable[..., Completed]


def run_cli(target: str, *args: str, stdin: str | None = None, **env: str) -> Completed:
    """`seqserve ARGS...` as a subprocess with SEQSERVE_TARGET=target and only `env` added."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEQSERVE_")}
    done = subprocess.run(
        [SEQSERVE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, "SEQSERVE_TARGET": target, **env},
        timeout=60,
    )
    return Completed(done.returncode, done.stdout, done.stderr)


def copy_model(models_dir: Path, name: str, dest_root: Path, version: int) -> Path:
    """Copy the newest version of an exported model into `dest_root` as `version`."""
    source = max(
        (p for p in (models_dir / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )
    dest = dest_root / name / str(version)
    shutil.copytree(source, dest)
    info = read_manifest(dest)
    info.version = version
    write_manifest(dest, info)
    return dest


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n") if text.strip() else []
