"""Edge validation: raw requests -> immutable validated requests for the core.

The shared codec (`seqserve.contract.codecs`) is the authority on what an input may be;
this module applies it, checks the batch limits, and wraps codec errors as `InvalidInput`.
Nothing behind this point sees a raw protobuf input.

A request is refused for the first of: a batch size out of range (on the count alone, so a
million-item request costs no per-item work), an input over `max_input_length`, an input
the codec refuses (the first of those). A request that is plainly fine
takes each model's `codecs.Codec` shortcut; any other takes the checks in that order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqserve.contract import codecs
from seqserve.server import limits
from seqserve.server.engines.tensor import Arrays, batchable
from seqserve.server.errors import InvalidInput, WrongApi
from seqserve.server.repository import ModelVersion
from seqserve.server.results import Encoded
from seqserve.v1 import seqserve_pb2 as pb

MAX_SESSION_STEPS = 2**53 - 1  # a snapshot's step count: any real session, and room to count on


@dataclass(frozen=True, slots=True)
class ValidPredict:
    model: ModelVersion
    items: tuple[Encoded, ...]
    deadline: float | None  # time.monotonic() by which the answer is due


@dataclass(frozen=True, slots=True)
class ValidTensors:
    """A tensor model's inputs, each checked against the graph (name, type, shape)."""

    model: ModelVersion
    arrays: Arrays
    rows: int  # the first dimension of every input (batchable graphs), else 1
    deadline: float | None


@dataclass(frozen=True, slots=True)
class ValidState:
    """A session snapshot checked against the model: state vectors of the right width."""

    h: np.ndarray
    c: np.ndarray
    steps: int


def refuse_tensor_model(model: ModelVersion) -> None:
    """Tensor models take named tensors, which only the KServe v2 API carries."""
    if model.info.kind == pb.SERVING_KIND_TENSOR:
        raise WrongApi(model.name)


def check_batch(model: ModelVersion | pb.ModelInfo, count: int, max_items: int) -> None:
    """The batch size is 1-`max_items`: checked on the count alone, before any item is read."""
    info = model if isinstance(model, pb.ModelInfo) else model.info
    if count == 0:
        raise InvalidInput(
            f"empty batch: send 1-{max_items} inputs, each {codecs.describe_input(info)}"
        )
    if count > max_items:
        raise InvalidInput(
            f"batch of {count} inputs is over the limit of {max_items} per request "
            "(max_batch_items); split it"
        )


def predict_from_messages(
    model: ModelVersion,
    inputs: Sequence[pb.Input],
    max_items: int,
    max_length: int,
    deadline: float | None,
) -> ValidPredict:
    """seqserve.v1 `Input` messages -> a validated request."""
    refuse_tensor_model(model)
    codec = model.codec
    items = None
    if 0 < len(inputs) <= max_items and codec.length <= max_length:
        items = codec.quick_all(inputs)  # its items are at most codec.length long
    if items is None:
        items = _checked_messages(model, inputs, max_items, max_length)
    return ValidPredict(model, items, deadline)


def _checked_messages(
    model: ModelVersion, inputs: Sequence[pb.Input], max_items: int, max_length: int
) -> tuple[Encoded, ...]:
    check_batch(model, len(inputs), max_items)  # on the count, before any item is read
    limits.check_input_lengths(inputs, max_length)
    items: list[Encoded] = []
    for index, message in enumerate(inputs):
        try:
            items.append(codecs.encode_message(model.info, message))
        except codecs.InputError as exc:
            raise InvalidInput(str(exc) if len(inputs) == 1 else f"input {index}: {exc}") from None
    return tuple(items)


def predict_from_values(
    model: ModelVersion, inputs: Sequence[object], max_items: int, deadline: float | None
) -> ValidPredict:
    """Plain Python inputs (strings, int or float lists) -> a validated request."""
    refuse_tensor_model(model)
    check_batch(model, len(inputs), max_items)
    items = model.codec.quick_values(inputs)
    if items is None:
        try:
            items = tuple(codecs.encode(model.info, item) for item in inputs)
        except codecs.InputError as exc:
            raise InvalidInput(str(exc)) from None
    return ValidPredict(model, items, deadline)


def tensors(
    model: ModelVersion, arrays: Arrays, max_items: int, deadline: float | None
) -> ValidTensors:
    """A tensor model's inputs (already of the graph's names, types and shapes) -> a validated
    request: a batchable graph's inputs share their first dimension, 1 to `max_items` rows."""
    if not batchable(model.info):
        return ValidTensors(model, arrays, 1, deadline)
    rows = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(rows.values())) != 1:
        raise InvalidInput(
            f"model {model.name!r} batches along the first dimension, which every input "
            f"must share; got {', '.join(f'{k} {v}' for k, v in rows.items())}"
        )
    count = next(iter(rows.values()))
    if not 1 <= count <= max_items:
        raise InvalidInput(
            f"model {model.name!r}: batch of {count} rows; send 1-{max_items} per request "
            "(max_batch_items)"
        )
    return ValidTensors(model, arrays, count, deadline)


def step_symbol(model: ModelVersion, symbol: int) -> int:
    try:
        return codecs.encode_symbol(model.info, symbol)
    except codecs.InputError as exc:
        raise InvalidInput(str(exc)) from None


def session_state(
    model: ModelVersion, h: Sequence[float], c: Sequence[float], steps: int
) -> ValidState:
    size = model.info.decode.state_size
    if len(h) != size or len(c) != size:
        raise InvalidInput(
            f"{model.name} session state needs h and c of {size} values each; "
            f"got {len(h)} and {len(c)}"
        )
    if not all(math.isfinite(v) for v in (*h, *c)):
        raise InvalidInput(f"{model.name} session state must be finite numbers")
    if not 0 <= steps <= MAX_SESSION_STEPS:
        raise InvalidInput(f"session state steps must be 0-{MAX_SESSION_STEPS}; got {steps}")
    return ValidState(np.asarray(h, np.float32), np.asarray(c, np.float32), steps)
