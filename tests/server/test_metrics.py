"""The metric hooks and log formatting, in process (no server): values, labels, lifetimes."""

from __future__ import annotations

import gc
import json
import logging

from prometheus_client import REGISTRY

from seqserve.server import calls, logs, metrics
from seqserve.server.api.observe import model_of, request_id
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


class _Engine:
    """Stands in for a batcher: owns its hooks, reports its own queue length."""

    def __init__(self, model: str, pending: int) -> None:
        self.pending = pending
        self.totals = ModelTotals()
        self.hooks = metrics.BatchHooks(model, lambda: self.pending, self.totals)


def test_batch_hooks_record_sizes_queue_waits_and_compute() -> None:
    engine = _Engine("unit_batch", 0)
    totals = engine.totals
    engine.hooks.ran(5, [1.0, 1.5], started=2.0, ended=2.25)
    assert _value("seqserve_batch_size_sum", model="unit_batch") == 5
    queue = {"model": "unit_batch", "phase": "queue"}
    assert _value("seqserve_phase_duration_seconds_count", **queue) == 2
    assert _value("seqserve_phase_duration_seconds_sum", **queue) == 1.5  # 1.0 + 0.5
    compute = {"model": "unit_batch", "phase": "compute"}
    assert _value("seqserve_phase_duration_seconds_sum", **compute) == 0.25
    assert (totals.queue_count, totals.queue_ns) == (2, 1_500_000_000)
    assert (totals.compute_count, totals.compute_ns) == (1, 250_000_000)


def test_queue_depth_sums_every_live_version_and_forgets_collected_ones() -> None:
    old, new = _Engine("unit_depth", 3), _Engine("unit_depth", 4)
    assert _value("seqserve_queue_depth", model="unit_depth") == 7
    del old
    gc.collect()
    assert _value("seqserve_queue_depth", model="unit_depth") == 4
    assert new.pending == 4


def test_decode_hooks_record_encoder_steps_and_occupancy() -> None:
    totals = ModelTotals()
    hooks = metrics.DecodeHooks("unit_decode", waiting=lambda: 2, active=lambda: 5, totals=totals)
    hooks.encoded([0.0, 0.0, 0.5], started=1.0, ended=1.1)
    hooks.stepped(5, started=1.1, ended=1.2)
    hooks.stepped(3, started=1.2, ended=1.3)
    assert _value("seqserve_batch_size_sum", model="unit_decode") == 3
    assert _value("seqserve_decode_step_sequences_sum", model="unit_decode") == 8
    assert _value("seqserve_decode_step_sequences_count", model="unit_decode") == 2
    step = {"model": "unit_decode", "phase": "decoder_step"}
    assert _value("seqserve_phase_duration_seconds_count", **step) == 2
    assert _value("seqserve_active_sequences", model="unit_decode") == 5
    assert _value("seqserve_queue_depth", model="unit_decode") == 2
    assert totals.compute_count == 3
    del hooks


def test_model_labels_are_bounded_to_served_models() -> None:
    _Engine("unit_served", 0)
    assert metrics.known_model("unit_served") == "unit_served"
    assert metrics.known_model("") == ""
    assert metrics.known_model("made-up-name-123") == metrics.UNKNOWN_MODEL
    metrics.RequestMetrics().observe("made-up-name-123", "Predict", "NOT_FOUND", 0.001)
    labels = {
        "model": metrics.UNKNOWN_MODEL,
        "method": "Predict",
        "code": "NOT_FOUND",
        "protocol": "grpc",
    }
    assert _value("seqserve_requests_total", **labels) >= 1
    assert _value("seqserve_requests_total", model="made-up-name-123") == 0


def test_request_ids_and_model_names_from_requests() -> None:
    assert request_id((("x-request-id", "abc-1"),)) == "abc-1"
    for bad in ("", "x" * 129, "new\nline", "ünïcode"):
        generated = request_id((("x-request-id", bad),))
        assert len(generated) == 16 and int(generated, 16) >= 0
    assert request_id(()) != request_id(())
    assert model_of(pb.PredictRequest(model="addition")) == "addition"
    assert model_of(pb.GetModelRequest(name="reverse")) == "reverse"
    opened = pb.SessionRequest(open=pb.SessionOpen(model="recall"))
    assert model_of(opened) == "recall"
    assert model_of(pb.ListModelsRequest()) == ""


def test_json_lines_carry_the_request_id_and_access_fields() -> None:
    record = logging.LogRecord(
        "seqserve.server.access", logging.INFO, __file__, 1, "hi %s", ("x",), None
    )
    record.__dict__.update(method="Predict", model="addition", code="OK", duration_ms=0.5)
    token = calls.current_call.set(calls.CallState("rid-7", "Predict"))
    try:
        assert logs.RequestIdFilter().filter(record)
    finally:
        calls.current_call.reset(token)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["message"] == "hi x" and entry["request_id"] == "rid-7"
    assert (entry["method"], entry["model"], entry["code"], entry["duration_ms"]) == (
        "Predict",
        "addition",
        "OK",
        0.5,
    )
    assert entry["time"].endswith("Z") and "peer" not in entry
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    logs.RequestIdFilter().filter(outside)
    assert outside.request_id == "-"  # type: ignore[attr-defined]
