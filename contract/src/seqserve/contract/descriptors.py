"""The serialized file descriptors of the `.proto` sources, as the package build wrote them.

A generated `_pb2` module registers its file in protobuf's process-wide default pool when
imported. A caller that wants the messages in a pool of its own (the server's KServe
front-end: tritonclient and others register their own `inference.*` copy in the default
pool) builds them from this descriptor instead of importing the module.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from google.protobuf import descriptor_pb2

RESOURCE = "descriptors.binpb"


@cache
def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """Every `.proto` file of the contract, by the path protoc was given (`seqserve/...`)."""
    data = resources.files(__package__).joinpath(RESOURCE).read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


def file_descriptor(name: str) -> descriptor_pb2.FileDescriptorProto:
    """One file's descriptor, e.g. `seqserve/kserve/v2/grpc_service.proto`."""
    for file in descriptor_set().file:
        if file.name == name:
            return file
    known = ", ".join(f.name for f in descriptor_set().file)
    raise KeyError(f"{name} is not a contract file; known: {known}")
