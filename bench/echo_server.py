"""E: a do-nothing server with seqserve's service shapes, to measure the generators' ceiling.

It runs the same `seqserve.v1.SeqServe` service on `grpc.aio` and parses every request as
seqserve does, but answers at once with a pre-built response of the right size (one result
of three ints per input; one step result per session step). No model, no batching. It
runs on the event loop seqserve chooses by default (`--event-loop auto`: uvloop when
installed), so that it stays the ceiling of the same front end.

On the same port it serves the KServe v2 `inference.GRPCInferenceService` for
`perf_analyzer`: every model name is `reverse`-shaped (INPUT INT64 [-1, 6]; OUTPUT INT64
and CONFIDENCE FP32 [-1, 6]); ModelInfer and ModelStreamInfer parse the request and answer
with a pre-built response of as many rows, carrying the request's id; ModelStatistics
counts the requests as Triton's tools expect (its only bookkeeping). It uses seqserve's own
message classes and handler table (`seqserve.server.api.kserve`), so both parse and
serialize alike.

    python -m bench.echo_server --port 50999
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np

from seqserve.server import eventloop
from seqserve.server.api import kserve
from seqserve.server.api.kserve.messages import SERVICE
from seqserve.server.api.kserve.messages import pb as kpb
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


ROW = 6  # reverse: six symbols in, six out


class KServeEcho:
    """The do-nothing KServe v2 servicer (reverse-shaped); see the module docstring."""

    def __init__(self) -> None:
        self._responses: dict[int, kpb.ModelInferResponse] = {}
        self._requests = 0
        self._rows = 0

    def _response(self, request: kpb.ModelInferRequest) -> kpb.ModelInferResponse:
        rows = request.inputs[0].shape[0] if request.inputs and request.inputs[0].shape else 1
        self._requests += 1
        self._rows += rows
        base = self._responses.get(rows)
        if base is None:
            base = kpb.ModelInferResponse(model_name="reverse", model_version="1")
            for name, datatype in (("OUTPUT", "INT64"), ("CONFIDENCE", "FP32")):
                base.outputs.add(name=name, datatype=datatype, shape=[rows, ROW])
            base.raw_output_contents.append(np.ones((rows, ROW), "<i8").tobytes())
            base.raw_output_contents.append(np.ones((rows, ROW), "<f4").tobytes())
            self._responses[rows] = base
        if not request.id:
            return base
        response = kpb.ModelInferResponse()
        response.CopyFrom(base)
        response.id = request.id
        return response

    async def ModelInfer(
        self, request: kpb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> kpb.ModelInferResponse:
        return self._response(request)

    async def ModelStreamInfer(
        self,
        requests: AsyncIterator[kpb.ModelInferRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[kpb.ModelStreamInferResponse]:
        async for request in requests:
            yield kpb.ModelStreamInferResponse(infer_response=self._response(request))

    async def ServerLive(self, request: object, context: object) -> kpb.ServerLiveResponse:
        return kpb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: object, context: object) -> kpb.ServerReadyResponse:
        return kpb.ServerReadyResponse(ready=True)

    async def ModelReady(self, request: object, context: object) -> kpb.ModelReadyResponse:
        return kpb.ModelReadyResponse(ready=True)

    async def ServerMetadata(self, request: object, context: object) -> kpb.ServerMetadataResponse:
        return kpb.ServerMetadataResponse(name="echo", version="1", extensions=["statistics"])

    async def ModelMetadata(
        self, request: kpb.ModelMetadataRequest, context: object
    ) -> kpb.ModelMetadataResponse:
        tensor = kpb.ModelMetadataResponse.TensorMetadata
        return kpb.ModelMetadataResponse(
            name=request.name,
            versions=["1"],
            platform="onnxruntime_onnx",
            inputs=[tensor(name="INPUT", datatype="INT64", shape=[-1, ROW])],
            outputs=[
                tensor(name="OUTPUT", datatype="INT64", shape=[-1, ROW]),
                tensor(name="CONFIDENCE", datatype="FP32", shape=[-1, ROW]),
            ],
        )

    async def ModelConfig(
        self, request: kpb.ModelConfigRequest, context: object
    ) -> kpb.ModelConfigResponse:
        config = kpb.ModelConfig(name=request.name, platform="onnxruntime_onnx", max_batch_size=64)
        config.input.add(name="INPUT", data_type=kpb.TYPE_INT64, dims=[ROW])
        config.output.add(name="OUTPUT", data_type=kpb.TYPE_INT64, dims=[ROW])
        config.output.add(name="CONFIDENCE", data_type=kpb.TYPE_FP32, dims=[ROW])
        return kpb.ModelConfigResponse(config=config)

    async def RepositoryIndex(
        self, request: object, context: object
    ) -> kpb.RepositoryIndexResponse:
        return kpb.RepositoryIndexResponse()

    async def ModelStatistics(
        self, request: kpb.ModelStatisticsRequest, context: object
    ) -> kpb.ModelStatisticsResponse:
        stats = kpb.ModelStatistics(
            name=request.name or "reverse",
            version="1",
            inference_count=self._rows,
            execution_count=self._requests,
        )
        infer = stats.inference_stats
        for phase in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
            getattr(infer, phase).count = self._requests
        return kpb.ModelStatisticsResponse(model_stats=[stats])


async def serve(port: int) -> None:
    server = grpc.aio.server()
    pb_grpc.add_SeqServeServicer_to_server(EchoServicer(), server)
    handlers = kserve.method_handlers(KServeEcho())  # registered as seqserve registers its own
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
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
