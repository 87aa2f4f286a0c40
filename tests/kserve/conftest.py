"""KServe v2 test fixtures: a tritonclient on the shared server, a seqserve.v1 stub beside it
for comparison, the exported manifests, and valid random inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.contract.manifest import read_manifest
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

# Every model but the stateful one (recall), in the order of the tutorials.
BATCH_MODELS = [
    "echo_vanilla",
    "echo_whole",
    "echo_partial",
    "addition",
    "sum_regression",
    "sum_mlp",
    "reverse",
]


@pytest.fixture(scope="session")
def triton_client(server_target: str) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(server_target)
    yield client
    client.close()


@pytest.fixture(scope="session")
def v1_stub(server_target: str) -> Iterator[pb_grpc.SeqServeStub]:
    with grpc.insecure_channel(server_target) as channel:
        yield pb_grpc.SeqServeStub(channel)


@pytest.fixture(scope="session")
def exported(models_dir: Path) -> dict[str, pb.ModelInfo]:
    """The newest exported manifest of every model, by name."""
    out: dict[str, pb.ModelInfo] = {}
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        versions = [p for p in folder.iterdir() if p.name.isdigit() and (p / "model.json").exists()]
        if versions:
            out[folder.name] = read_manifest(max(versions, key=lambda p: int(p.name)))
    return out


def random_items(info: pb.ModelInfo, count: int, seed: int) -> list[str] | list[list[int]]:
    """Valid inputs as a caller writes them: texts like "3+10", or int lists."""
    rng = np.random.default_rng(seed)
    spec = info.input
    if spec.kind == pb.DATA_KIND_TEXT:
        fmt = spec.format
        terms = rng.integers(fmt.term_min, fmt.term_max + 1, size=(count, fmt.terms))
        return [fmt.separator.join(str(v) for v in row) for row in terms.tolist()]
    values = rng.integers(spec.min_value, spec.max_value + 1, size=(count, spec.length))
    return [list(row) for row in values.tolist()]


def to_v1(item: str | list[int]) -> pb.Input:
    return pb.Input(text=item) if isinstance(item, str) else pb.Input(ints=pb.Ints(values=item))


def tensor(items: list[str] | list[list[int]], datatype: str = "INT64") -> triton.InferInput:
    """The INPUT tensor tritonclient users build: np.object_ bytes for text, int64 otherwise."""
    if items and isinstance(items[0], str):
        array = np.array([[s.encode()] for s in items], dtype=np.object_)
        datatype = "BYTES"
    else:
        array = np.array(items, dtype=np.int32 if datatype == "INT32" else np.int64)
    out = triton.InferInput("INPUT", list(array.shape), datatype)
    out.set_data_from_numpy(array)
    return out
