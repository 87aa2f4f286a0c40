"""The generated protobuf code in the contract package matches the `.proto` sources.

Generated code is not committed (seqserve-contract's build writes it; `make proto` re-runs
that); a `.proto` edited without regenerating must fail here, loudly, rather than show up
as a wire mismatch later.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
GENERATED = ROOT / "contract" / "src"
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


def test_descriptors_hold_every_proto_file_as_protoc_reads_it(tmp_path: Path) -> None:
    """`seqserve.contract.descriptors` (the server's KServe pool) is the sources' descriptor."""
    from seqserve.contract.descriptors import descriptor_set, file_descriptor

    fresh = tmp_path / "fresh.binpb"
    names = [str(s.relative_to(PROTO)) for s in SOURCES]
    args = ["grpc_tools.protoc", f"-I{PROTO}", f"--descriptor_set_out={fresh}", *names]
    assert protoc.main(args) == 0
    assert descriptor_set().SerializeToString() == fresh.read_bytes()
    assert file_descriptor("seqserve/kserve/v2/grpc_service.proto").package == "inference"
    with pytest.raises(KeyError, match=r"seqserve/v1/seqserve\.proto"):
        file_descriptor("inference.proto")
