"""The standard `grpc.health.v1.Health/Check` call without grpcio-health-checking.

The client depends on grpcio and protobuf only, so the two tiny health messages are
declared here, in a private descriptor pool (a server process that also loads the
official module keeps its own copy in the default pool; no clash).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

CHECK_METHOD = "/grpc.health.v1.Health/Check"


def _build() -> tuple[Any, Any]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="seqserve_client/grpc_health_v1.proto", package="grpc.health.v1", syntax="proto3"
    )
    request = proto.message_type.add(name="HealthCheckRequest")
    request.field.add(
        name="service",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    response = proto.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        status.value.add(name=name, number=number)
    response.field.add(
        name="status",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_ENUM,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    find = pool.FindMessageTypeByName
    return (
        message_factory.GetMessageClass(find("grpc.health.v1.HealthCheckRequest")),
        message_factory.GetMessageClass(find("grpc.health.v1.HealthCheckResponse")),
    )


HealthCheckRequest, HealthCheckResponse = _build()


def serialize_request(service: str) -> bytes:
    data: bytes = HealthCheckRequest(service=service).SerializeToString()
    return data


def parse_status(data: bytes) -> str:
    """Response bytes -> `SERVING`, `NOT_SERVING`, `SERVICE_UNKNOWN` or `UNKNOWN`."""
    response = HealthCheckResponse.FromString(data)
    values = response.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number
    value = values.get(response.status)
    return str(value.name) if value is not None else "UNKNOWN"


def check_call(channel: Any) -> Any:
    """The Check method on a channel, sync or `grpc.aio`: call it with a service name."""
    return channel.unary_unary(
        CHECK_METHOD, request_serializer=serialize_request, response_deserializer=parse_status
    )
