"""The generated protobuf code in the client package matches the `.proto` sources.

Generated code is not committed (`make proto` writes it); a `.proto` edited without
regenerating must fail here, loudly, rather than show up as a wire mismatch later.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
GENERATED = ROOT / "client" / "src"
SOURCES = sorted(PROTO.rglob("*.proto"))


def test_every_proto_has_generated_code() -> None:
    assert SOURCES, "no .proto sources found"
    for source in SOURCES:
        stem = source.relative_to(PROTO).with_suffix("")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            path = GENERATED / f"{stem}{suffix}"
            assert path.exists(), f"{path} missing: run `make proto`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(PROTO)))
def test_generated_code_is_not_stale(source: Path, tmp_path: Path) -> None:
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(source),
        ]
    )
    assert status == 0
    stem = source.relative_to(PROTO).with_suffix("")
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
        fresh = (tmp_path / f"{stem}{suffix}").read_bytes()
        installed = (GENERATED / f"{stem}{suffix}").read_bytes()
        assert installed == fresh, f"{stem}{suffix} is stale: run `make proto`"
