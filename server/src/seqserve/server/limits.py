"""Request limits checked before any decoding: cheap refusals of oversized input.

The codec checks each input against its model's manifest (exact length, symbols, alphabet);
this bounds the work a bad request can cause first, whatever the model. The message names
the setting, so an operator knows which knob a caller ran into.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seqserve.server.errors import InvalidInput
from seqserve.v1 import seqserve_pb2 as pb


def input_length(message: pb.Input) -> int:
    """Symbols, values or characters in one input item."""
    which = message.WhichOneof("data")
    if which == "ints":
        return len(message.ints.values)
    if which == "values":
        return len(message.values.values)
    if which == "text":
        return len(message.text)
    return 0


def check_input_lengths(inputs: Sequence[pb.Input], limit: int) -> None:
    check_sizes(map(input_length, inputs), limit, "elements")


def check_sizes(sizes: Iterable[int], limit: int, unit: str) -> None:
    """Refuse the first input over `limit` (`unit`: what `sizes` count)."""
    for index, size in enumerate(sizes):
        if size > limit:
            raise InvalidInput(
                f"input {index} has {size} {unit}; the server accepts at most {limit} "
                "per input (max_input_length)"
            )
