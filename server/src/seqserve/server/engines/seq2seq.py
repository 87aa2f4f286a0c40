"""seq2seq engine: the event-loop side of the continuous-batching decode worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import numpy as np

from seqserve.server.engines.base import Encoded, Engine, ItemResult, StreamEvent, sample_item
from seqserve.server.engines.decode import DecodeWorker, Job
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb


class Seq2SeqEngine(Engine):
    def __init__(self, info: pb.ModelInfo, encoder: Any, decoder: Any, settings: Settings) -> None:
        super().__init__(info)
        self._encoder, self._decoder = encoder, decoder
        self.worker = DecodeWorker(
            info,
            encoder,
            decoder,
            max_active=settings.max_active_sequences,
            max_queue=settings.max_queue,
        )

    def warmup(self) -> None:
        """One greedy decode of a valid input, synchronously, outside the worker."""
        enc, dec = ({g.role: g for g in self.info.graphs}[r] for r in _ROLES)
        card = int(dec.inputs[0].shape[1])
        source = np.zeros((1, *(int(d) for d in enc.inputs[0].shape[1:])), dtype=np.float32)
        for position, symbol in enumerate(sample_item(self.info.input)):
            source[0, position, int(symbol)] = 1.0
        h, c = self._encoder.run(None, {enc.inputs[0].name: source})
        symbol = int(self.info.decode.start_symbol)
        names = [t.name for t in dec.inputs]
        for _ in range(self.info.decode.steps):
            x = np.zeros((1, card), dtype=np.float32)
            x[0, symbol] = 1.0
            probs, h, c = self._decoder.run(None, dict(zip(names, (x, h, c), strict=True)))
            symbol = int(probs.argmax())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.worker.start(loop)

    def stop(self) -> None:
        self.worker.stop()

    async def predict(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        job = Job(items, deadline, asyncio.get_running_loop().create_future())
        self.worker.submit(job)
        try:
            return await job.answer
        finally:
            self.worker.cancel(job)  # no-op once the job has its answer

    async def stream(
        self, items: Sequence[Encoded], deadline: float | None
    ) -> AsyncGenerator[StreamEvent, None]:
        events: asyncio.Queue[StreamEvent | BaseException] = asyncio.Queue()
        job = Job(items, deadline, asyncio.get_running_loop().create_future(), events)
        self.worker.submit(job)
        try:
            while True:
                event = await events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, list):
                    return
        finally:
            self.worker.cancel(job)  # no-op once the job has its answer


_ROLES = (pb.GRAPH_ROLE_ENCODER, pb.GRAPH_ROLE_DECODER_STEP)
