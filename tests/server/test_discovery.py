"""What a tool with no .proto finds on the port: reflection (v1 and v1alpha), health, versions.

Reflection is read with grpcio-reflection's own client (`ProtoReflectionDescriptorDatabase`).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from seqserve.server import __version__

SERVICES = ["inference.GRPCInferenceService", "seqserve.v1.ModelControl", "seqserve.v1.SeqServe"]
REFLECTION = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]
SERVING = health_pb2.HealthCheckResponse.SERVING


def test_reflection_v1alpha_describes_every_api(server_target: str) -> None:
    with grpc.insecure_channel(server_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert sorted(database.get_services()) == sorted(
            [*SERVICES, "grpc.health.v1.Health", *REFLECTION]
        )
        pool = descriptor_pool.DescriptorPool(database)
        kserve = pool.FindServiceByName("inference.GRPCInferenceService")
        assert {"ModelInfer", "ServerMetadata", "RepositoryIndex"} <= set(kserve.methods_by_name)
        infer = pool.FindMessageTypeByName("inference.ModelInferRequest")
        assert "inputs" in infer.fields_by_name
        seqserve = pool.FindServiceByName("seqserve.v1.SeqServe")
        assert seqserve.methods_by_name["Predict"].input_type.full_name == (
            "seqserve.v1.PredictRequest"
        )
        v1 = pool.FindServiceByName("grpc.reflection.v1.ServerReflection")
        assert v1.methods_by_name["ServerReflectionInfo"].input_type.full_name == (
            "grpc.reflection.v1.ServerReflectionRequest"
        )


def test_reflection_v1_answers(server_target: str) -> None:
    # v1 shares v1alpha's field numbers: the v1alpha message classes read and write it
    with grpc.insecure_channel(server_target) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        asks = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="inference.GRPCInferenceService"
            ),
        ]
        listed, described = list(call(iter(asks), timeout=10))
    names = [service.name for service in listed.list_services_response.service]
    assert set(SERVICES) <= set(names)
    files = described.file_descriptor_response.file_descriptor_proto
    assert files and not described.HasField("error_response")


def test_health_answers_every_served_api(server_target: str) -> None:
    with grpc.insecure_channel(server_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", *SERVICES):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == SERVING, service
        listed = health.List(health_pb2.HealthListRequest(), timeout=5)
        assert {name: s.status for name, s in listed.statuses.items()} == dict.fromkeys(
            ["", *SERVICES], SERVING
        )
        with pytest.raises(grpc.RpcError) as raised:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
    error: Any = raised.value
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == (
        "unknown service 'nope'; health answers '', 'inference.GRPCInferenceService', "
        "'seqserve.v1.ModelControl', 'seqserve.v1.SeqServe'"
    )


def test_server_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import grpc as grpc_module
    import onnxruntime

    assert done.stdout.startswith(f"seqserve-server {__version__} (python ")
    assert f"onnxruntime {onnxruntime.__version__}" in done.stdout
    assert f"grpc {grpc_module.__version__}" in done.stdout and "devices: cpu" in done.stdout
