"""One inference request of the protocol through the core: resolve the model, read the
input tensor, validate with the shared codecs, predict (or stream, or step a sequence),
write the output tensors, count it in the statistics. A tensor model's named inputs are
read and written as arrays (`arrays`) instead.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from seqserve.server import ids
from seqserve.server.api.kserve import arrays, describe, inputs, outputs, sequences
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.api.kserve.stats import Statistics
from seqserve.server.core import InferenceCore, PredictAnswer
from seqserve.server.errors import InvalidInput
from seqserve.server.repository import ModelVersion
from seqserve.server.results import ItemResult, SymbolEvent
from seqserve.server.validation import ValidPredict
from seqserve.v1 import seqserve_pb2 as pb

FINAL = "triton_final_response"
TIMEOUT = "timeout"  # Triton's per-request timeout parameter, in microseconds


def time_budget(request: kpb.ModelInferRequest, time_remaining: float | None) -> float | None:
    """Seconds the request may take: the call's deadline or the request's `timeout`
    (microseconds, 0 for none), whichever is sooner; None: the server's default applies."""
    if TIMEOUT not in request.parameters:
        return time_remaining
    param = request.parameters[TIMEOUT]
    which = param.WhichOneof("parameter_choice")
    if which not in ("int64_param", "uint64_param") or getattr(param, which) < 0:
        raise InvalidInput(f"parameter {TIMEOUT} must be microseconds (0: no timeout)")
    if getattr(param, which) == 0:
        return time_remaining
    timeout = float(getattr(param, which)) / 1e6
    return timeout if time_remaining is None else min(timeout, time_remaining)


class Inference:
    def __init__(self, core: InferenceCore) -> None:
        self._core = core
        self.statistics = Statistics()

    async def run(
        self, request: kpb.ModelInferRequest, time_remaining: float | None, stream: bool
    ) -> AsyncIterator[kpb.ModelInferResponse]:
        """The responses to one request: streamed symbols (seq2seq on a stream), then the
        complete response (marked final on a stream)."""
        ids.check("request id", request.id, ids.MAX_REQUEST_ID)
        model = self._core.admit(request.model_name, describe.version_number(request.model_version))
        if t.is_tensor(model.info):
            yield await self._tensors(model, request, time_remaining, stream)
            return
        started = time.perf_counter_ns()
        ok, results = False, list[ItemResult]()
        try:
            specs, typed = outputs.requested(model.info, request)
            limit = self._core.max_answer_bytes
            if t.is_stateful(model.info):
                outputs.check_answer_size(model.info, specs, 1, limit)
                results = [await sequences.step(self._core, model, request)]
            else:
                valid = self._validated(model, request, time_remaining)
                outputs.check_answer_size(model.info, specs, len(valid.items), limit)
                if stream and t.streams_symbols(model.info):
                    async for event in self._core.stream(valid):
                        if isinstance(event, SymbolEvent):
                            yield _symbol(request, model, specs, typed, event)
                        elif isinstance(event, PredictAnswer):
                            results = event.results
                else:
                    results = (await self._core.predict(valid)).results
            ok = True
            response = _response(request, model)
            outputs.write(response, specs, results, typed)
            if stream:
                response.parameters[FINAL].bool_param = True
            yield response
        finally:
            elapsed = time.perf_counter_ns() - started
            self.statistics.record(model.name, model.version, len(results), ok, elapsed)

    async def _tensors(
        self,
        model: ModelVersion,
        request: kpb.ModelInferRequest,
        time_remaining: float | None,
        stream: bool,
    ) -> kpb.ModelInferResponse:
        """A tensor model's request: the graph's inputs in, its chosen outputs back."""
        started = time.perf_counter_ns()
        ok, rows = False, 0
        try:
            specs, typed = outputs.requested(model.info, request)
            arrays.check_typed(specs, typed)
            found = arrays.read(model.info, request, self._core.refuse_long_inputs)
            budget = time_budget(request, time_remaining)
            valid = self._core.tensors_request(model, found, budget)
            rows = valid.rows
            response = _response(request, model)
            arrays.write(response, specs, model.info, await self._core.infer_tensors(valid), typed)
            if stream:
                response.parameters[FINAL].bool_param = True
            ok = True
            return response
        finally:
            elapsed = time.perf_counter_ns() - started
            self.statistics.record(model.name, model.version, rows, ok, elapsed)

    def _validated(
        self, model: ModelVersion, request: kpb.ModelInferRequest, time_remaining: float | None
    ) -> ValidPredict:
        core = self._core
        items = inputs.read_items(
            model.info, request, core.refuse_long_inputs, core.refuse_large_batch
        )
        return self._core.values_request(model, items, time_budget(request, time_remaining))


def _symbol(
    request: kpb.ModelInferRequest,
    model: ModelVersion,
    specs: tuple[t.TensorSpec, ...],
    typed: bool,
    event: SymbolEvent,
) -> kpb.ModelInferResponse:
    response = _response(request, model)
    text = model.info.output.kind == pb.DATA_KIND_TEXT
    outputs.write_symbol(response, specs, event, text, typed)
    response.parameters[FINAL].bool_param = False
    return response


def _response(request: kpb.ModelInferRequest, model: ModelVersion) -> kpb.ModelInferResponse:
    return kpb.ModelInferResponse(
        model_name=model.name, model_version=str(model.version), id=request.id
    )
