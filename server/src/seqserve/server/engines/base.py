"""What every engine offers, and the result types the front-ends convert.

The engine API is independent of any wire protocol: it takes validated items (tuples of
symbols or values from `seqserve.client.codecs`) and returns plain dataclasses.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seqserve.client import codecs
from seqserve.server.errors import InvalidInput
from seqserve.v1 import seqserve_pb2 as pb

Encoded = codecs.Encoded
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The answer for one input item."""

    symbols: tuple[int, ...] = ()
    text: str | None = None  # text models: the symbols as text, padding stripped
    value: float | None = None  # regress: de-normalised value
    rounded: int = 0  # regress: value rounded to the nearest integer
    confidence: tuple[float, ...] = ()  # per output position
    probabilities: tuple[float, ...] = ()  # classify: the class distribution


@dataclass(frozen=True, slots=True)
class SymbolEvent:
    """One symbol of one item, streamed as soon as the decoder produced it."""

    item: int
    position: int
    symbol: int
    text: str
    confidence: float


StreamEvent = SymbolEvent | list[ItemResult]


class Engine(abc.ABC):
    """Serves one model version; created by the repository, started on the event loop."""

    def __init__(self, info: pb.ModelInfo) -> None:
        self.info = info

    @abc.abstractmethod
    def warmup(self) -> None:
        """Run the graphs once on valid input (synchronously, before the model is ready)."""

    @abc.abstractmethod
    def start(self, loop: asyncio.AbstractEventLoop) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @property
    @abc.abstractmethod
    def idle(self) -> bool:
        """Nothing submitted is still queued or running (read on the event loop)."""

    async def predict(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        raise InvalidInput(
            f"{self.info.name} is a {kind_name(self.info)} model; use a Session to step it"
        )

    async def stream(
        self, items: Sequence[Encoded], deadline: float | None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Symbols as they are produced (seq2seq only), then the final results."""
        yield await self.predict(items, deadline)


def kind_name(info: pb.ModelInfo) -> str:
    name: str = pb.ServingKind.Name(info.kind)
    return name.removeprefix("SERVING_KIND_").lower()


def sample_item(spec: pb.SequenceSpec) -> Encoded:
    """A valid input item for warm-up."""
    if spec.encoding == pb.ENCODING_SCALED:
        return tuple(float(spec.min_value) for _ in range(spec.length))
    return tuple(int(spec.min_value) for _ in range(spec.length))


class OneHot:
    """Writes symbol batches as one-hot rows into a reused buffer (one owner thread)."""

    def __init__(self, shape: tuple[int, ...], capacity: int) -> None:
        self._buffer = np.zeros((capacity, *shape), dtype=np.float32)
        self._shape = shape

    def __call__(self, symbols: npt.NDArray[np.int64]) -> Floats:
        n = symbols.shape[0]
        if n > self._buffer.shape[0]:
            self._buffer = np.zeros((n, *self._shape), dtype=np.float32)
        out = self._buffer[:n]
        out.fill(0.0)
        if symbols.ndim == 1:
            out[np.arange(n), symbols] = 1.0
        else:
            rows = np.arange(n)[:, None]
            cols = np.arange(symbols.shape[1])[None, :]
            out[rows, cols, symbols] = 1.0
        return out


def symbol_results(
    spec: pb.SequenceSpec,
    symbols: npt.NDArray[np.int64] | list[list[int]],
    confidence: Floats | npt.NDArray[np.float64] | list[list[float]],
    probabilities: Floats | None = None,
) -> list[ItemResult]:
    """Rows of chosen symbols (and their probabilities) -> results, text decoded by the codec.

    Rows may differ in length when given as lists (seq2seq with an end symbol).
    `probabilities`: each row's whole distribution, for classify results.
    """
    rows = symbols.tolist() if isinstance(symbols, np.ndarray) else symbols
    texts: Iterable[str | None] = [None] * len(rows)
    if spec.kind == pb.DATA_KIND_TEXT:
        texts = map(codecs.text_decoder(spec), rows)
    confs = confidence.tolist() if isinstance(confidence, np.ndarray) else confidence
    found = zip(rows, texts, confs, strict=False)  # rows of one batch
    if probabilities is None:  # passing the default costs per item, so leave it out
        return [ItemResult(symbols=tuple(r), text=t, confidence=tuple(c)) for r, t, c in found]
    return [
        ItemResult(symbols=tuple(r), text=t, confidence=tuple(c), probabilities=tuple(p))
        for (r, t, c), p in zip(found, probabilities.tolist(), strict=True)
    ]
