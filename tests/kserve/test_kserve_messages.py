"""The wire contract: seqserve's `inference` messages agree with Triton's, field by field."""

from __future__ import annotations

from typing import Any

from tritonclient.grpc import model_config_pb2, service_pb2

from seqserve.server.api.kserve.messages import SERVICE, pb


def triton_message(full_name: str) -> Any:
    for module in (service_pb2, model_config_pb2):
        pool = module.DESCRIPTOR.pool
        try:
            return pool.FindMessageTypeByName(full_name)
        except KeyError:
            continue
    raise AssertionError(f"{full_name} is not a Triton message")


def fields(descriptor: Any) -> dict[str, tuple[int, int, str]]:
    return {
        f.name: (f.number, f.type, f.message_type.full_name if f.message_type else "")
        for f in descriptor.fields
    }


def walk(descriptor: Any) -> list[Any]:
    out = [descriptor]
    for nested in descriptor.nested_types:
        out += walk(nested)
    return out


def test_loads_beside_tritonclient() -> None:
    """Both sets of `inference.*` classes live in one process (private descriptor pool)."""
    assert pb.ModelInferRequest.DESCRIPTOR.full_name == "inference.ModelInferRequest"
    assert service_pb2.ModelInferRequest.DESCRIPTOR.full_name == "inference.ModelInferRequest"
    assert pb.ModelInferRequest is not service_pb2.ModelInferRequest


def test_every_field_matches_triton() -> None:
    """Same number, wire type and message type for each field we define (a subset of Triton's)."""
    checked = 0
    for top in pb.DESCRIPTOR.message_types_by_name.values():
        for ours in walk(top):
            theirs = fields(triton_message(ours.full_name))
            for name, spec in fields(ours).items():
                assert theirs.get(name) == spec, f"{ours.full_name}.{name}"
                checked += 1
    assert checked > 100


def test_enum_values_match_triton() -> None:
    theirs = model_config_pb2.DataType
    for value in pb.DataType.DESCRIPTOR.values:
        assert theirs.Value(value.name) == value.number


def test_service_methods_match_triton() -> None:
    ours = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    theirs = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert ours.full_name == theirs.full_name == SERVICE
    for method in ours.methods:
        other = theirs.methods_by_name[method.name]
        assert method.input_type.full_name == other.input_type.full_name
        assert method.output_type.full_name == other.output_type.full_name
        assert method.client_streaming == other.client_streaming
        assert method.server_streaming == other.server_streaming
