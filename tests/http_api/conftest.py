"""HTTP port fixtures: the shared server's HTTP address and tritonclient.http on it; the
KServe tests' manifests (`exported`) and seqserve.v1 stub (`v1_stub`) to compare with."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tritonclient.http as triton_http
from kserve.conftest import exported, v1_stub

__all__ = ["exported", "v1_stub"]  # fixtures shared with the KServe gRPC tests

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


def as_array(items: list[str] | list[list[int]]) -> tuple[np.ndarray, str]:
    if items and isinstance(items[0], str):
        return np.array([[s.encode()] for s in items], dtype=np.object_), "BYTES"
    return np.array(items, dtype=np.int64), "INT64"
