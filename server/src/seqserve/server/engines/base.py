"""What every engine offers.

The engine API is independent of any wire protocol: it takes validated items (tuples of
symbols or values from `seqserve.contract.codecs`) and returns the plain dataclasses of
`seqserve.server.results`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from seqserve.server.errors import InvalidInput
from seqserve.server.execution.batcher import Batcher
from seqserve.server.results import Encoded, Final, ItemResult, StreamEvent
from seqserve.v1 import seqserve_pb2 as pb


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
        yield Final(await self.predict(items, deadline))


class BatchedEngine(Engine):
    """An engine whose graph calls all go through its one dynamic batcher."""

    batcher: Batcher[Any, Any]

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.batcher.start(loop)

    def stop(self) -> None:
        self.batcher.stop()

    @property
    def idle(self) -> bool:
        return self.batcher.idle


def kind_name(info: pb.ModelInfo) -> str:
    name: str = pb.ServingKind.Name(info.kind)
    return name.removeprefix("SERVING_KIND_").lower()


def sample_item(spec: pb.SequenceSpec) -> Encoded:
    """A valid input item for warm-up."""
    if spec.encoding == pb.ENCODING_SCALED:
        return tuple(float(spec.min_value) for _ in range(spec.length))
    return tuple(int(spec.min_value) for _ in range(spec.length))
