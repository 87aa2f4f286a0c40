"""HTTP port fixtures: the shared server's HTTP address, tritonclient.http on it, the
exported manifests, a seqserve.v1 stub to compare answers with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import numpy as np
import pytest
import tritonclient.http as triton_http

from seqserve.client.manifest import read_manifest
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from conftest import RunningServer


@pytest.fixture(scope="session")
def http_url(server: RunningServer) -> str:
    return server.http_url


@pytest.fixture(scope="session")
def triton_http_client(server: RunningServer) -> Iterator[triton_http.InferenceServerClient]:
    client = triton_http.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def v1(server_target: str) -> Iterator[pb_grpc.SeqServeStub]:
    with grpc.insecure_channel(server_target) as channel:
        yield pb_grpc.SeqServeStub(channel)


@pytest.fixture(scope="session")
def infos(models_dir: Path) -> dict[str, pb.ModelInfo]:
    """The newest exported manifest of every model, by name."""
    out: dict[str, pb.ModelInfo] = {}
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        versions = [p for p in folder.iterdir() if p.name.isdigit() and (p / "model.json").exists()]
        if versions:
            out[folder.name] = read_manifest(max(versions, key=lambda p: int(p.name)))
    return out


def items_for(info: pb.ModelInfo, count: int, seed: int) -> list[str] | list[list[int]]:
    """Valid inputs: texts like "3+10", or int lists."""
    rng = np.random.default_rng(seed)
    spec = info.input
    if spec.kind == pb.DATA_KIND_TEXT:
        fmt = spec.format
        terms = rng.integers(fmt.term_min, fmt.term_max + 1, size=(count, fmt.terms))
        return [fmt.separator.join(str(v) for v in row) for row in terms.tolist()]
    values = rng.integers(spec.min_value, spec.max_value + 1, size=(count, spec.length))
    return [list(row) for row in values.tolist()]


def as_v1(item: str | list[int]) -> pb.Input:
    return pb.Input(text=item) if isinstance(item, str) else pb.Input(ints=pb.Ints(values=item))


def as_array(items: list[str] | list[list[int]]) -> tuple[np.ndarray, str]:
    if items and isinstance(items[0], str):
        return np.array([[s.encode()] for s in items], dtype=np.object_), "BYTES"
    return np.array(items, dtype=np.int64), "INT64"
