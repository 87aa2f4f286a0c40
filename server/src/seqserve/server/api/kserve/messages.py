"""The `inference` (Open Inference Protocol) message classes, from a private descriptor pool.

tritonclient, KServe and MLServer each register their own copy of the `inference.*`
protobuf symbols in protobuf's process-wide default pool, and a second, different copy
fails to load ("duplicate symbol 'inference.ServerLiveRequest'"). So the server never
imports the generated `seqserve.kserve.v2.grpc_service_pb2` module at run time: it builds
the classes in a pool of its own from the file's descriptor, which seqserve-contract ships
(`seqserve.contract.descriptors`). The server then loads beside any of those libraries in
one process (a custom model calling Triton, a test driving the server with tritonclient).

For type checking, `pb` is the generated module (its `.pyi` stub); at run time it is a
module object with the same message classes, enums and enum values.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.internal import enum_type_wrapper

from seqserve.contract.descriptors import file_descriptor

PROTO = "seqserve/kserve/v2/grpc_service.proto"
SERVICE = "inference.GRPCInferenceService"


def load(proto: str = PROTO) -> types.ModuleType:
    """A module-like object holding every message class, enum and enum value of the file."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor(proto))
    file = pool.FindFileByName(proto)
    out = types.ModuleType(f"{proto}[private pool]")
    out.DESCRIPTOR = file  # type: ignore[attr-defined]
    for name, message in file.message_types_by_name.items():
        setattr(out, name, message_factory.GetMessageClass(message))
    for name, enum in file.enum_types_by_name.items():
        setattr(out, name, enum_type_wrapper.EnumTypeWrapper(enum))
        for value in enum.values:
            setattr(out, value.name, value.number)
    return out


if TYPE_CHECKING:
    from seqserve.kserve.v2 import grpc_service_pb2 as pb
else:
    pb = load()

__all__ = ["PROTO", "SERVICE", "load", "pb"]
