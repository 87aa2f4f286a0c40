"""KServe v2 REST bodies <-> the protocol's messages, so that HTTP and gRPC share one path.

An infer request becomes the `ModelInferRequest` the gRPC front-end gets, and goes through
the same `Inference` (`seqserve.server.api.kserve`): the same tensor checks, datatype
tables, output selection, sequences and statistics. Only the encoding differs:

- inputs: `data` (JSON, nested or flat, row-major) goes to the typed contents; with Triton's
  binary tensor extension, an input's `binary_data_size` bytes follow the JSON header
  (`Inference-Header-Content-Length` long) and go to `raw_input_contents`.
- outputs: sent as JSON `data`, or as bytes after the JSON header when the output's
  `binary_data` parameter is true (or, when no output is named, the request's
  `binary_data_output` parameter), each with its `binary_data_size`.
- the generate extension: the body's keys other than `id` and `parameters` name input
  tensors and hold one item; the answer has one key per output tensor (a scalar when
  the tensor has one element).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqserve.server.api.http.body import json_object, parse_json
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.arrays import split_bytes
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput
from seqserve.v1 import seqserve_pb2 as pb

HEADER_LENGTH = "inference-header-content-length"
BINARY_DATA = "binary_data"
BINARY_DATA_SIZE = "binary_data_size"
BINARY_DATA_OUTPUT = "binary_data_output"
Params = Any  # a protobuf map of InferParameter


@dataclass(slots=True)
class Infer:
    """A request in protocol form, and which outputs the caller wants as binary."""

    message: kpb.ModelInferRequest
    binary: set[str] = field(default_factory=set)
    binary_default: bool = False

    def wants_binary(self, name: str) -> bool:
        return name in self.binary or (not self.message.outputs and self.binary_default)


# ------------------------------------------------------------------ requests


def infer_request(body: bytes, header_length: str | None, model: str, version: str) -> Infer:
    """An infer body (JSON, or JSON header + binary tensors) for `model` at `version`."""
    if header_length is None:
        header, binary = body, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length {header_length} must be the byte length "
                f"of the JSON header at the start of the {len(body)}-byte body"
            )
        header, binary = body[: int(header_length)], body[int(header_length) :]
    request = json_object(parse_json(header), "the inference request")
    message = kpb.ModelInferRequest(model_name=model, model_version=version)
    message.id = _string(request.get("id", ""), "id")
    parameters = dict(json_object(request.get("parameters", {}), "parameters"))
    binary_default = bool(parameters.pop(BINARY_DATA_OUTPUT, False))
    set_parameters(message.parameters, parameters)
    offset = 0
    for tensor in _list(request.get("inputs"), "inputs"):
        offset = _input(message, json_object(tensor, "each input"), binary, offset)
    if offset != len(binary):
        raise InvalidInput(
            f"the inputs' binary_data_size add up to {offset} bytes but {len(binary)} bytes "
            "follow the JSON header"
        )
    infer = Infer(message, binary_default=binary_default)
    for output in _list(request.get("outputs", []), "outputs"):
        output = json_object(output, "each output")
        name = _string(output.get("name"), "output name")
        message.outputs.add(name=name)
        params = json_object(output.get("parameters", {}), "output parameters")
        if params.get(BINARY_DATA):
            infer.binary.add(name)
    return infer


def generate_request(info: pb.ModelInfo, body: Any, version: str) -> kpb.ModelInferRequest:
    """A generate body: `{"INPUT": <one item>, "id": ..., "parameters": {...}}`."""
    request = json_object(body, "the generate request")
    message = kpb.ModelInferRequest(model_name=info.name, model_version=version)
    message.id = _string(request.get("id", ""), "id")
    set_parameters(message.parameters, json_object(request.get("parameters", {}), "parameters"))
    specs = {spec.name: spec for spec in t.input_specs(info)}
    for name, value in request.items():
        if name in ("id", "parameters"):
            continue
        shape = [1, *np.shape(value)] if not isinstance(value, str) else [1, 1]
        spec = specs.get(name)  # an unknown name is refused by the shared checks
        datatype = spec.datatype if spec else t.BYTES if isinstance(value, str) else t.INT64
        tensor = message.inputs.add(name=name, datatype=datatype, shape=shape)
        _fill(tensor, value)
    return message


def set_parameters(target: Params, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        elif isinstance(value, float):
            target[key].double_param = value
        elif isinstance(value, str):
            target[key].string_param = value
        else:
            raise InvalidInput(
                f"parameter {key!r} must be a bool, number or string; got {json.dumps(value)}"
            )


def _input(
    message: kpb.ModelInferRequest, tensor: dict[str, Any], binary: bytes, offset: int
) -> int:
    name = _string(tensor.get("name"), "input name")
    datatype = _string(tensor.get("datatype"), f"input {name!r} datatype")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise InvalidInput(f"input {name!r} needs a shape: a list of whole numbers")
    proto = message.inputs.add(name=name, datatype=datatype, shape=shape)
    params = json_object(tensor.get("parameters", {}), f"input {name!r} parameters")
    size = params.get(BINARY_DATA_SIZE)
    if size is None:
        if message.raw_input_contents:
            raise InvalidInput("send every input as binary data or every input as JSON data")
        _fill(proto, tensor.get("data"))
        return offset
    if type(size) is not int or size < 0 or offset + size > len(binary):
        raise InvalidInput(
            f"input {name!r} binary_data_size {size} is not a byte count within the "
            f"{len(binary) - offset} binary bytes left after the JSON header"
        )
    if len(message.raw_input_contents) != len(message.inputs) - 1:
        raise InvalidInput("send every input as binary data or every input as JSON data")
    message.raw_input_contents.append(binary[offset : offset + size])
    return offset + size


def _fill(tensor: kpb.ModelInferRequest.InferInputTensor, data: Any) -> None:
    """JSON data -> the typed contents of the tensor's datatype (unknown ones are left
    empty: the shared checks refuse them, naming the datatypes the model takes)."""
    if data is None:
        raise InvalidInput(f"input {tensor.name!r} needs data (or binary_data_size)")
    if tensor.datatype not in t.BY_DATATYPE:
        return
    target = t.BY_DATATYPE[tensor.datatype][0]
    if not target:
        raise InvalidInput(
            f"input {tensor.name!r} is {tensor.datatype}, which JSON cannot carry; send it as "
            "binary data (binary_data_size)"
        )
    values = list(_flat(data))
    try:
        if tensor.datatype == t.BYTES:
            getattr(tensor.contents, target).extend(
                v.encode() if isinstance(v, str) else v for v in values
            )
        else:
            getattr(tensor.contents, target).extend(values)
    except (TypeError, ValueError):
        kind = "strings" if tensor.datatype == t.BYTES else "numbers"
        raise InvalidInput(
            f"input {tensor.name!r} is {tensor.datatype}: its data must be {kind}; "
            f"got {json.dumps(values[:4])[:80]}"
        ) from None


def _flat(data: Any) -> Iterable[Any]:
    if isinstance(data, list):
        for value in data:
            yield from _flat(value)
    else:
        yield data


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a JSON list")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string; got {json.dumps(value)}")
    return value


# ------------------------------------------------------------------ responses


def parameters(params: Params) -> dict[str, Any]:
    return {
        key: getattr(value, str(value.WhichOneof("parameter_choice")))
        for key, value in params.items()
    }


def tensor_values(output: kpb.ModelInferResponse.InferOutputTensor, raw: bytes) -> list[Any]:
    """The flat elements of an output's raw contents, as JSON values."""
    if output.datatype == t.BYTES:
        elements = split_bytes(raw, output.name)
        return [e.decode("utf-8", errors="replace") for e in elements]
    values: list[Any] = np.frombuffer(raw, dtype=t.BY_DATATYPE[output.datatype][1]).tolist()
    return values


def infer_response(response: kpb.ModelInferResponse, infer: Infer) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary tensors follow it."""
    out: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
    }
    if response.id:
        out["id"] = response.id
    if response.parameters:
        out["parameters"] = parameters(response.parameters)
    tensors: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for output, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        tensor: dict[str, Any] = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
        }
        if infer.wants_binary(output.name):
            tensor["parameters"] = {BINARY_DATA_SIZE: len(raw)}
            binary.append(raw)
        else:
            tensor["data"] = tensor_values(output, raw)
        tensors.append(tensor)
    out["outputs"] = tensors
    header = json.dumps(out, separators=(",", ":")).encode()
    if not binary:
        return header, None
    return header + b"".join(binary), len(header)


def generate_response(response: kpb.ModelInferResponse) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
    }
    if response.id:
        out["id"] = response.id
    out.update(parameters(response.parameters))
    for output, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        values = tensor_values(output, raw)
        out[output.name] = values[0] if len(values) == 1 else values
    return out
