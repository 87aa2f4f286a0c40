"""E: a do-nothing server with seqserve's service shape, to measure the generator's ceiling.

It runs the same `seqserve.v1.SeqServe` service on `grpc.aio` and parses every request as
seqserve does, but answers at once with a pre-built response of the right size (one result
of three ints per input; one step result per session step). No model, no batching. It
runs on the event loop seqserve chooses by default (`--event-loop auto`: uvloop when
installed), so that it stays the ceiling of the same front end.

    python -m bench.echo_server --port 50999
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import grpc

from seqserve.server import eventloop
from seqserve.server.settings import EventLoop
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

_RESULT = pb.Result(ints=pb.Ints(values=[3, 2, 1]), confidence=[1.0, 1.0, 1.0], version=1)
_STEP = pb.SessionResponse(step=pb.StepResult(symbol=1, probabilities=[0.2] * 5, steps=1))


class EchoServicer(pb_grpc.SeqServeServicer):
    def __init__(self) -> None:
        self._responses: dict[int, pb.PredictResponse] = {}

    def _response(self, n: int) -> pb.PredictResponse:
        if n not in self._responses:
            self._responses[n] = pb.PredictResponse(model="echo", version=1, results=[_RESULT] * n)
        return self._responses[n]

    async def Predict(
        self, request: pb.PredictRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictResponse:
        return self._response(len(request.inputs))

    async def Session(
        self, request_iterator: AsyncIterator[pb.SessionRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SessionResponse]:
        async for request in request_iterator:
            if request.HasField("open"):
                yield pb.SessionResponse(opened=pb.SessionOpened(session_id="e", model="echo"))
            elif request.HasField("close"):
                yield pb.SessionResponse(closed=pb.SessionClose())
                return
            else:
                yield _STEP


async def serve(port: int) -> None:
    server = grpc.aio.server()
    pb_grpc.add_SeqServeServicer_to_server(EchoServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    loop = eventloop.choose(EventLoop.AUTO)
    with asyncio.Runner(loop_factory=loop.factory) as runner:
        runner.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
