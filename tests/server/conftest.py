"""Server-test fixtures: stubs on the shared server, manifests, and the reference computation."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from seqserve.client import Client
from seqserve.contract.manifest import read_manifest, write_manifest
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc


def newest(models_dir: Path, name: str) -> Path:
    versions = [p for p in (models_dir / name).iterdir() if p.name.isdigit()]
    return max(versions, key=lambda p: int(p.name))


def edited_copy(source: Path, repo: Path, edit: Callable[[pb.ModelInfo], None]) -> Path:
    """A copy of the version folder `source` under `repo/<name>/<version>`, its manifest
    changed by `edit`."""
    info = read_manifest(source)
    folder = repo / info.name / source.name
    shutil.copytree(source, folder)
    edit(info)
    write_manifest(folder, info)
    return folder


@pytest.fixture(scope="session")
def channel(server_target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server_target) as connected:
        yield connected


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> pb_grpc.SeqServeStub:
    return pb_grpc.SeqServeStub(channel)


@pytest.fixture(scope="session")
def manifests(models_dir: Path) -> dict[str, pb.ModelInfo]:
    """The newest manifest of every exported model, by name."""
    return {
        folder.name: read_manifest(newest(models_dir, folder.name))
        for folder in sorted(models_dir.iterdir())
        if folder.is_dir() and any(p.name.isdigit() for p in folder.iterdir())
    }


def load_newest(models_dir: Path, manifests: dict[str, pb.ModelInfo], kind: int) -> Any:
    """The newest version of the first model of `kind`, loaded in-process (real graphs)."""
    from seqserve.server.repository import load_version
    from seqserve.server.runtime import SessionFactory
    from seqserve.server.settings import Settings
    from seqserve.server.totals import Totals

    name = kind_models(manifests, kind)[0]
    settings = Settings(models=models_dir)
    folder = newest(models_dir, name)
    factory = SessionFactory(settings)
    return load_version(folder, name, int(folder.name), factory, settings, Totals())


def kind_models(manifests: dict[str, pb.ModelInfo], *kinds: int) -> list[str]:
    return [name for name, info in manifests.items() if info.kind in kinds]


def ints(*values: int) -> pb.Input:
    return pb.Input(ints=pb.Ints(values=values))


def code_of(call: object) -> tuple[grpc.StatusCode, str]:
    """Run a stub call (a zero-argument callable) and return its error code and message."""
    assert callable(call)
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error = raised.value
    return error.code(), error.details()  # type: ignore[attr-defined]


SOURCES = [[3, 9, 27, 1, 5, 8], [50, 1, 2, 3, 4, 5], [7, 7, 7, 7, 7, 7]]
SUMS = ["3+10", "10+10", "1+1"]
RECALL = [0, 1, 2, 3, 4, 0, 2]


def answers(target: str) -> dict[str, Any]:
    """What one user sees: single and batched calls, concurrent calls, a stream, a session."""
    with Client(target) as client:
        out: dict[str, Any] = {
            "reverse": [client.predict("reverse", s).ints for s in SOURCES],
            "reverse batch": [p.ints for p in client.predict("reverse", SOURCES)],
            "addition": [client.predict("addition", s).text for s in SUMS],
            "stream": [getattr(e, "symbol", None) for e in client.stream("reverse", SOURCES[0])],
        }
        with ThreadPoolExecutor(8) as pool:  # concurrent callers share the batchers
            out["concurrent"] = list(
                pool.map(lambda s: client.predict("reverse", s).ints, SOURCES * 8)
            )
        with client.session("recall") as session:
            out["session"] = [session.step(s).symbol for s in RECALL]
    return out
