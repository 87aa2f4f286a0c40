"""What engines answer, independent of any wire protocol; the front-ends convert these.

Items arrive as `Encoded` tuples (symbols or values, from `seqserve.contract.codecs`) and leave
as plain frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seqserve.contract import codecs
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


@dataclass(frozen=True, slots=True)
class Final:
    """The last event of a stream: every item's result, in request order."""

    results: list[ItemResult]


StreamEvent = SymbolEvent | Final


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
