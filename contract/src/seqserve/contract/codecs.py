"""Codecs between what callers send (text, integer lists, values) and model symbols.

This is the one place that knows how a model's manifest (`SequenceSpec`) turns user
input into the symbols or values a graph consumes, and symbols back into output. The
client uses it to check input before sending, the server as the authority, and the
trainer to describe its models. Pure Python: no numpy.

`encode` and `encode_message` decide every input and word every refusal. `Codec` is the
server's per-model shortcut for the common case (well-formed wire input): it answers
`None` for anything it is not sure of, and the caller asks `encode_message`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from itertools import chain
from typing import TypeAlias

from seqserve.v1 import seqserve_pb2 as pb

UserInput: TypeAlias = "str | Sequence[int] | Sequence[float]"
Encoded: TypeAlias = "tuple[int, ...] | tuple[float, ...]"


class InputError(ValueError):
    """An input the model cannot take; the message says what is allowed."""


# ------------------------------------------------------------------ descriptions


def describe_input(info: pb.ModelInfo) -> str:
    """What a model accepts, in words: `5 ints in 0-9`, `1-10 "+" 1-10, e.g. "3+10"`."""
    if info.kind == pb.SERVING_KIND_TENSOR:
        return _tensors(info.graphs[0].inputs)
    spec = info.input
    if spec.kind == pb.DATA_KIND_TEXT:
        fmt = spec.format
        term = f"{fmt.term_min}-{fmt.term_max}"
        grammar = f' "{fmt.separator}" '.join([term] * fmt.terms)
        return f'{grammar}, e.g. "{fmt.example}"'
    noun = "values" if spec.encoding == pb.ENCODING_SCALED else "ints"
    count = "1 int" if spec.length == 1 and noun == "ints" else f"{spec.length} {noun}"
    return f"{count} in {spec.min_value}-{spec.max_value}"


def describe_output(info: pb.ModelInfo) -> str:
    """What a model answers, in words: `text, 2 symbols`, `3 ints in 0-50`, `value`."""
    if info.kind == pb.SERVING_KIND_TENSOR:
        return _tensors(info.graphs[0].outputs)
    spec = info.output
    upto = "up to " if info.decode.HasField("end_symbol") else ""
    if spec.kind == pb.DATA_KIND_TEXT:
        return f"text, {upto}{spec.length} symbols"
    if spec.kind == pb.DATA_KIND_VALUE:
        return "value (+ rounded)"
    count = "1 int" if spec.length == 1 else f"{spec.length} ints"
    return f"{upto}{count} in {spec.min_value}-{spec.max_value}"


def _tensors(specs: Sequence[pb.TensorSpec]) -> str:
    """A tensor model's tensors: `x float32[-1,3], k int64[-1,1]` (-1: any size)."""
    return ", ".join(f"{t.name} {t.dtype}[{','.join(map(str, t.shape))}]" for t in specs)


def _fail(info: pb.ModelInfo, got: str) -> InputError:
    return InputError(f"{info.name} expects {describe_input(info)}; got {got}")


# ------------------------------------------------------------------ input


def encode(info: pb.ModelInfo, item: object) -> Encoded:
    """Check one input item against the manifest; return its symbols or values.

    Text -> symbol indices of the left-padded string; ints -> the ints themselves
    (one-hot models) or as floats (scaled models); values -> floats (scaled models).
    """
    spec = info.input
    if isinstance(item, str):
        if spec.kind != pb.DATA_KIND_TEXT:
            raise _fail(info, f"text {_show(item)}")
        return _encode_text(info, item)
    if spec.kind == pb.DATA_KIND_TEXT:
        raise _fail(info, f"{_kind_of(item)} instead of text")
    if not isinstance(item, Sequence) or isinstance(item, bytes):
        raise _fail(info, _kind_of(item))
    if len(item) != spec.length:
        raise _fail(info, f"{len(item)} {'item' if len(item) == 1 else 'items'}")
    if spec.encoding == pb.ENCODING_SCALED:
        return _encode_values(info, item)
    return _encode_ints(info, item)


def _encode_text(info: pb.ModelInfo, text: str) -> tuple[int, ...]:
    spec = info.input
    fmt = spec.format
    body = text.lstrip(spec.pad) if spec.pad else text
    if not body or len(body) > spec.length:
        raise _fail(info, _show(text))
    terms = body.split(fmt.separator) if fmt.separator else [body]
    if len(terms) != fmt.terms:
        raise _fail(info, _show(text))
    for term in terms:
        if not (term.isascii() and term.isdigit()) or not fmt.term_min <= int(term) <= fmt.term_max:
            raise _fail(info, _show(text))
    padded = body.rjust(spec.length, spec.pad or " ")
    try:
        return tuple(spec.alphabet.index(ch) for ch in padded)
    except ValueError:
        raise _fail(info, _show(text)) from None


def _encode_ints(info: pb.ModelInfo, item: Sequence[object]) -> tuple[int, ...]:
    spec = info.input
    out: list[int] = []
    for position, value in enumerate(item):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise _fail(info, f"{_show(value)} at position {position}")
        if not spec.min_value <= value <= spec.max_value:
            raise _fail(info, f"{value} at position {position}")
        out.append(value)
    return tuple(out)


def _encode_values(info: pb.ModelInfo, item: Sequence[object]) -> tuple[float, ...]:
    spec = info.input
    out: list[float] = []
    for position, value in enumerate(item):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(info, f"{_show(value)} at position {position}")
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float: out of range like any other
            raise _fail(info, f"{_show(value)} at position {position}") from None
        if not math.isfinite(number) or not spec.min_value <= number <= spec.max_value:
            raise _fail(info, f"{_show(value)} at position {position}")
        out.append(number)
    return tuple(out)


def encode_symbol(info: pb.ModelInfo, symbol: object) -> int:
    """Check one symbol of a stateful session."""
    (value,) = _encode_ints(info, [symbol])
    return value


def encode_message(info: pb.ModelInfo, message: pb.Input) -> Encoded:
    """`encode` for an `Input` message as it arrives on the wire."""
    which = message.WhichOneof("data")
    if which == "text":
        return encode(info, message.text)
    if which == "ints":
        return encode(info, list(message.ints.values))
    if which == "values":
        return encode(info, list(message.values.values))
    raise _fail(info, "an empty input")


class Codec:
    """One model's input spec read once, for the server's common case: plainly valid input.

    `quick_all` returns what `encode_message` gives for each of a batch of `Input`s when it
    sees at a glance that all are valid (ints of the right length and range, texts of the
    grammar: remembered once checked); `quick_values` the same for plain Python items and
    `encode`. Both return `None` for anything else, without saying why, and the caller asks
    the precise checker. Every item they accept has at most `length` elements.
    """

    TEXTS_REMEMBERED = 4096  # valid texts kept per model with their symbols

    def __init__(self, info: pb.ModelInfo) -> None:
        spec = info.input
        self.info = info
        self.length: int = spec.length
        self._low: int = spec.min_value
        self._high: int = spec.max_value
        self._is_text = spec.kind == pb.DATA_KIND_TEXT
        self._scaled = spec.encoding == pb.ENCODING_SCALED
        # exact types only: bool is an int, and a one-hot model's 3.0 encodes as 3
        self._number_types = {int, float} if self._scaled else {int}
        self._texts: dict[str, tuple[int, ...]] = {}

    def quick_all(self, messages: Sequence[pb.Input]) -> tuple[Encoded, ...] | None:
        if self._is_text:
            return self._known_texts([m.text for m in messages])  # "" unless the input is text
        if self._scaled:
            return self._rows([m.ints.values or m.values.values for m in messages])
        return self._rows([m.ints.values for m in messages])  # `values`: the precise path

    def quick_values(self, items: Sequence[object]) -> tuple[Encoded, ...] | None:
        if self._is_text:
            texts = [item for item in items if type(item) is str]
            return self._known_texts(texts) if len(texts) == len(items) else None
        rows = [item for item in items if isinstance(item, list | tuple)]
        if len(rows) != len(items) or not set(map(type, chain(*rows))) <= self._number_types:
            return None
        return self._rows(rows)

    def _rows(self, rows: Sequence[Sequence[int] | Sequence[float]]) -> tuple[Encoded, ...] | None:
        """Rows of numbers checked together: each `length` long (before any is copied out of
        its message), every number in range."""
        if set(map(len, rows)) != {self.length} or not self.length:
            return None
        low, high = self._low, self._high
        if self._scaled:
            values = [tuple(map(float, row[:])) for row in rows]
            in_range = all(low <= v <= high for v in chain(*values))  # NaN is not
            return tuple(values) if in_range else None
        copies = [row[:] for row in rows]
        numbers = list(chain(*copies))
        in_range = low <= min(numbers) and max(numbers) <= high
        return tuple(map(tuple, copies)) if in_range else None

    def _known_texts(self, texts: Sequence[str]) -> tuple[Encoded, ...] | None:
        items: list[Encoded] = []
        for text in texts:
            symbols = self._texts.get(text) or self._check_text(text)
            if symbols is None:
                return None
            items.append(symbols)
        return tuple(items)

    def _check_text(self, text: str) -> tuple[int, ...] | None:
        if not text or len(text) > self.length:
            return None
        try:
            symbols = _encode_text(self.info, text)
        except InputError:
            return None
        if len(self._texts) < self.TEXTS_REMEMBERED:
            self._texts[text] = symbols
        return symbols


def to_message(item: UserInput) -> pb.Input:
    """Wrap one user input (a string, ints or floats) into an `Input` message."""
    if isinstance(item, str):
        return pb.Input(text=item)
    values = list(item)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pb.Input(ints=pb.Ints(values=values))  # type: ignore[arg-type]
    return pb.Input(values=pb.Values(values=values))  # type: ignore[arg-type]


# ------------------------------------------------------------------ output


def decode_text(spec: pb.SequenceSpec, symbols: Sequence[int]) -> str:
    """Symbols of a text output -> the string without its padding (`"13"`)."""
    return text_decoder(spec)(symbols)


def text_decoder(spec: pb.SequenceSpec) -> Callable[[Sequence[int]], str]:
    """`decode_text` for many rows of one spec, the spec read once."""
    alphabet, pad = spec.alphabet, spec.pad

    def decode(symbols: Sequence[int]) -> str:
        text = "".join([alphabet[s] for s in symbols])
        return text.lstrip(pad) if pad else text

    return decode


def denormalise(spec: pb.SequenceSpec, value: float) -> float:
    """A scaled graph output back in original units."""
    return value * spec.scale if spec.encoding == pb.ENCODING_SCALED else value


def pad_text(spec: pb.SequenceSpec, text: str) -> str:
    """Left-pad a text to the spec's length (`"3+10"` -> `" 3+10"`)."""
    return text.rjust(spec.length, spec.pad or " ")


# ------------------------------------------------------------------ helpers


def _show(value: object, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind_of(value: object) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return f"{len(value)} items"
    return type(value).__name__
