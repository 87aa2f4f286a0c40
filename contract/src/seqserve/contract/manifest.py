"""Read and write `model.json`: the `ModelInfo` message in protobuf JSON form."""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import json_format

from seqserve.v1 import seqserve_pb2 as pb

MANIFEST = "model.json"


def parse_manifest(text: str) -> pb.ModelInfo:
    """Parse a manifest; unknown fields are an error, so a typo cannot pass silently."""
    info: pb.ModelInfo = json_format.Parse(text, pb.ModelInfo())
    return info


def read_manifest(folder: str | os.PathLike[str]) -> pb.ModelInfo:
    return parse_manifest((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


def dump_manifest(info: pb.ModelInfo) -> str:
    text: str = json_format.MessageToJson(info, indent=2, preserving_proto_field_name=True)
    return text + "\n"


def write_manifest(folder: str | os.PathLike[str], info: pb.ModelInfo) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(dump_manifest(info), encoding="utf-8")
    return path
