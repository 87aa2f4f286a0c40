"""Valid inputs drawn from manifests, the answers a server must give for them, and a
background load of worker threads."""

from __future__ import annotations

import random
import threading
from typing import Self

from seqserve.contract import codecs
from seqserve.v1 import seqserve_pb2 as pb

SESSION_KIND = pb.SERVING_KIND_STATEFUL_STEP


def valid_input(info: pb.ModelInfo, rng: random.Random) -> str | list[int] | list[float]:
    """One random input the model accepts."""
    spec = info.input
    if spec.kind == pb.DATA_KIND_TEXT:
        fmt = spec.format
        terms = [rng.randint(fmt.term_min, fmt.term_max) for _ in range(fmt.terms)]
        text = fmt.separator.join(map(str, terms))
        return codecs.pad_text(spec, text) if rng.random() < 0.5 else text
    values = [rng.randint(spec.min_value, spec.max_value) for _ in range(spec.length)]
    if spec.encoding == pb.ENCODING_SCALED and rng.random() < 0.5:
        return [float(v) for v in values]
    return values


def as_message(item: str | list[int] | list[float]) -> pb.Input:
    return codecs.to_message(item)


def key(result: pb.Result) -> tuple[object, ...]:
    """What must be identical between two answers to the same input (batch-independent)."""
    which = result.WhichOneof("output")
    if which == "value":
        return ("value", round(result.value, 2))
    if which == "text":
        return ("text", result.text)
    return ("ints", tuple(result.ints.values))


def matches(result: pb.Result, expected: tuple[object, ...]) -> bool:
    """The answer equals the reference (regression values within 0.01: batch-size noise)."""
    got = key(result)
    if got[0] == "value" and expected[0] == "value":
        return abs(float(got[1]) - float(expected[1])) <= 0.011  # type: ignore[arg-type]
    return got == expected


class BackgroundLoad:
    """Worker threads running `_run(index)` from `with` until its end; `_lock` guards results."""

    join_seconds = 60.0

    def __init__(self, threads: int) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, index: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.join_seconds)
