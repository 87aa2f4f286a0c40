"""One inference request of the protocol through the core: resolve the model, read the
input tensor, validate with the shared codecs, predict (or stream, or step a sequence),
write the output tensors, count it in the statistics. A tensor model's named inputs are
read and written as arrays (`arrays`) instead.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from seqserve.server import ids
from seqserve.server.api.kserve import arrays, describe, inputs, outputs, sequences
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.api.kserve.stats import Phases, Statistics
from seqserve.server.calls import QueueWait, queue_wait
from seqserve.server.core import InferenceCore, PredictAnswer
from seqserve.server.errors import InvalidInput
from seqserve.server.repository import ModelVersion
from seqserve.server.results import ItemResult, SymbolEvent
from seqserve.server.validation import ValidPredict
from seqserve.v1 import seqserve_pb2 as pb

FINAL = "triton_final_response"
TIMEOUT = "timeout"  # Triton's per-request timeout parameter, in microseconds
STREAM_SYMBOLS = "stream_symbols"  # bool: on a stream, also send each decoded symbol


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


class _Timing:
    """One request's phases as the statistics count them; the engine's worker writes the
    queue wait into `wait` (through `seqserve.server.calls.queue_wait`)."""

    __slots__ = ("phases", "read_at", "started", "token", "wait")

    def __init__(self) -> None:
        self.started = self.read_at = time.perf_counter_ns()
        self.wait = QueueWait()
        self.token = queue_wait.set(self.wait)
        self.phases: Phases | None = None  # set once the response is written

    def read(self) -> None:
        """The input is read and validated."""
        self.read_at = time.perf_counter_ns()

    def done(self, inferred: int) -> None:
        """The answer came at `inferred` and the response is written now."""
        queued = max(self.wait.ns, 0)
        self.phases = Phases(
            queue=queued,
            compute_input=self.read_at - self.started,
            compute_infer=max(inferred - self.read_at - queued, 0),
            compute_output=time.perf_counter_ns() - inferred,
        )


class Inference:
    def __init__(self, core: InferenceCore) -> None:
        self._core = core
        self.statistics = Statistics()

    async def infer(
        self, request: kpb.ModelInferRequest, time_remaining: float | None, final: bool = False
    ) -> kpb.ModelInferResponse:
        """The one response to a request (`final`: marked as the last one of a stream)."""
        return await self._one(self._model(request), request, time_remaining, final)

    async def _one(
        self,
        model: ModelVersion,
        request: kpb.ModelInferRequest,
        time_remaining: float | None,
        final: bool,
    ) -> kpb.ModelInferResponse:
        if t.is_tensor(model.info):
            return await self._tensors(model, request, time_remaining, final)
        timing = _Timing()
        results = list[ItemResult]()
        try:
            specs, typed = outputs.requested(model.info, request)
            limit = self._core.max_answer_bytes
            if t.is_stateful(model.info):  # the step reads its input with the sequence's
                outputs.check_answer_size(model.info, specs, 1, limit)
                timing.read()
                results = [await sequences.step(self._core, model, request)]
            else:
                valid = self._validated(model, request, time_remaining)
                outputs.check_answer_size(model.info, specs, len(valid.items), limit)
                timing.read()
                results = (await self._core.predict(valid)).results
            response = self._written(timing, request, model, specs, results, typed, final)
        finally:
            self._record(timing, model, len(results))
        return response

    async def stream(
        self,
        request: kpb.ModelInferRequest,
        time_remaining: float | None,
        symbols: bool | None = None,
    ) -> AsyncIterator[kpb.ModelInferResponse]:
        """The responses to one stream request: each decoded symbol first when the model
        decodes and the request asks for them (`stream_symbols`; `symbols` True: always, as
        the HTTP port's generate stream does), then the complete one."""
        model = self._model(request)
        if symbols is None:
            symbols = sequences.flag(request, STREAM_SYMBOLS)
        if not (t.streams_symbols(model.info) and symbols):
            yield await self._one(model, request, time_remaining, final=True)
            return
        timing = _Timing()
        results = list[ItemResult]()
        try:
            specs, typed = outputs.requested(model.info, request)
            valid = self._validated(model, request, time_remaining)
            limit = self._core.max_answer_bytes
            outputs.check_answer_size(model.info, specs, len(valid.items), limit)
            timing.read()
            async for event in self._core.stream(valid):
                if isinstance(event, SymbolEvent):
                    yield _symbol(request, model, specs, typed, event)
                elif isinstance(event, PredictAnswer):
                    results = event.results
            yield self._written(timing, request, model, specs, results, typed, True)
        finally:
            self._record(timing, model, len(results))

    def _written(
        self,
        timing: _Timing,
        request: kpb.ModelInferRequest,
        model: ModelVersion,
        specs: tuple[t.TensorSpec, ...],
        results: list[ItemResult],
        typed: bool,
        final: bool,
    ) -> kpb.ModelInferResponse:
        inferred = time.perf_counter_ns()
        response = _response(request, model, final)
        outputs.write(response, specs, results, typed)
        timing.done(inferred)
        return response

    def _record(self, timing: _Timing, model: ModelVersion, items: int) -> None:
        with contextlib.suppress(ValueError):  # reset from another context: leave it
            queue_wait.reset(timing.token)
        elapsed = time.perf_counter_ns() - timing.started
        self.statistics.record(model.name, model.version, items, elapsed, timing.phases)

    async def _tensors(
        self,
        model: ModelVersion,
        request: kpb.ModelInferRequest,
        time_remaining: float | None,
        final: bool,
    ) -> kpb.ModelInferResponse:
        """A tensor model's request: the graph's inputs in, its chosen outputs back."""
        timing = _Timing()
        rows = 0
        try:
            specs, typed = outputs.requested(model.info, request)
            arrays.check_typed(specs, typed)
            found = arrays.read(model.info, request, self._core.refuse_long_inputs)
            budget = time_budget(request, time_remaining)
            valid = self._core.tensors_request(model, found, budget)
            timing.read()
            computed = await self._core.infer_tensors(valid)
            inferred = time.perf_counter_ns()
            response = _response(request, model, final)
            arrays.write(response, specs, model.info, computed, typed)
            timing.done(inferred)
            rows = valid.rows
            return response
        finally:
            self._record(timing, model, rows)

    def _model(self, request: kpb.ModelInferRequest) -> ModelVersion:
        ids.check("request id", request.id, ids.MAX_REQUEST_ID)
        return self._core.admit(request.model_name, describe.version_number(request.model_version))

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


def _response(
    request: kpb.ModelInferRequest, model: ModelVersion, final: bool = False
) -> kpb.ModelInferResponse:
    """The response's header (`final`: marked as the last one of a stream)."""
    response = kpb.ModelInferResponse(
        model_name=model.name, model_version=str(model.version), id=request.id
    )
    if final:
        response.parameters[FINAL].bool_param = True
    return response
