"""What a tool with no `.proto` at hand finds on the port: health and server reflection.

- Health (`grpc.health.v1.Health`) answers "" (the whole server) and the name of every
  served API (`seqserve.v1.SeqServe`, `inference.GRPCInferenceService`); `Check` of an
  unknown name is NOT_FOUND naming the known ones, and `List` returns them all (the
  grpcio-health-checking servicer implements Check and Watch only).
- Reflection lists those APIs, health and itself, under both `grpc.reflection.v1`
  (what current `grpcurl` and `grpc_cli` ask first) and `grpc.reflection.v1alpha`.
  grpcio-reflection implements v1alpha; v1's messages are the same fields under another
  package, so one servicer answers both: the v1 descriptors are v1alpha's, renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from seqserve.server.api.plumbing import Registration

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
REFLECTION_V1ALPHA = reflection.SERVICE_NAME
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """grpcio-health-checking's servicer, with `List` and a message on NOT_FOUND."""

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        status = self._server_status.get(request.service)
        if status is None:
            known = ", ".join(repr(name) for name in sorted(self._server_status))
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"unknown service {request.service!r}; health answers {known}",
            )
        return health_pb2.HealthCheckResponse(status=status)

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthListResponse:
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in sorted(self._server_status.items())
            }
        )

    async def set_all(self, services: Iterable[str], serving: bool) -> None:
        for name in ("", *services):
            await self.set(name, SERVING if serving else NOT_SERVING)


def enable_reflection(server: Registration, services: Sequence[ServiceDescriptor]) -> None:
    """Reflection over v1 and v1alpha, listing `services`, health and reflection itself."""
    pool = _reflection_pool([service.file for service in services])
    names = (*(s.full_name for s in services), HEALTH_SERVICE, REFLECTION_V1, REFLECTION_V1ALPHA)
    servicer = reflection.aio.ReflectionServicer(names, pool=pool)
    for service in (REFLECTION_V1, REFLECTION_V1ALPHA):
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": handler}),)
        )


def _reflection_pool(files: Iterable[FileDescriptor]) -> descriptor_pool.DescriptorPool:
    """A pool of the served files (the KServe one lives in a private pool), health,
    reflection v1alpha and v1, each after the files it imports."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        pool.Add(proto)
        added.add(file.name)

    for file in (*files, health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR):
        add(file)
    pool.Add(_reflection_v1())
    return pool


def _reflection_v1() -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto: v1alpha's file under the v1 package."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = proto.package, "grpc.reflection.v1"
    proto.name, proto.package = "grpc/reflection/v1/reflection.proto", new
    proto.ClearField("options")
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = _renamed(field.type_name, old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = _renamed(method.input_type, old, new)
            method.output_type = _renamed(method.output_type, old, new)
    return proto


def _renamed(type_name: str, old: str, new: str) -> str:
    prefix = f".{old}."
    return f".{new}.{type_name[len(prefix) :]}" if type_name.startswith(prefix) else type_name
