"""Protocol messages -> plain JSON values as Triton's HTTP API writes them: numbers as
numbers (protobuf's JSON mapping writes 64-bit ones as strings), enums by name, every
scalar field present, unset messages and empty lists left out."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message


def plain(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        value = getattr(message, fd.name)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if value:
                entry = fd.message_type.fields_by_name["value"]
                out[fd.name] = {k: _scalar(entry, v) for k, v in value.items()}
        elif fd.is_repeated:
            if value:
                out[fd.name] = [_scalar(fd, v) for v in value]
        elif fd.message_type is not None:
            if message.HasField(fd.name):
                out[fd.name] = plain(value)
        elif fd.containing_oneof is None or message.WhichOneof(fd.containing_oneof.name) == fd.name:
            out[fd.name] = _scalar(fd, value)
    return out


def _scalar(fd: FieldDescriptor, value: Any) -> Any:
    if fd.message_type is not None:
        return plain(value)
    if fd.enum_type is not None:
        return fd.enum_type.values_by_number[value].name
    return value
