"""/metrics of a real server: every `seqserve_*` family is there and moves under load."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from seqserve.client import Client, ModelNotFound

from .metrics_support import Samples, free_port, names, scrape, total

FAMILIES = {
    "seqserve_requests_total",
    "seqserve_request_duration_seconds_bucket",
    "seqserve_queue_depth",
    "seqserve_batch_size_bucket",
    "seqserve_decode_step_sequences_bucket",
    "seqserve_active_sequences",
    "seqserve_phase_duration_seconds_bucket",
    "seqserve_sessions_open",
    "seqserve_sessions_opened_total",
    "seqserve_sessions_evicted_total",
    "seqserve_model_ready",
    "seqserve_model_load_seconds",
    "seqserve_build_info",
}


@pytest.fixture(scope="module")
def metrics_server(models_dir: Path, launch_server: Callable[..., Any]) -> tuple[Any, int]:
    port = free_port()
    return launch_server(models_dir, "--metrics-port", str(port)), port


def _load(target: str) -> None:
    """Batched single-graph calls, seq2seq decodes (plain and streamed), session steps,
    and one call for a model that does not exist."""
    with Client(target, timeout=20) as client:

        def work(i: int) -> None:
            a, b = i % 10 + 1, i % 7 + 1
            assert client.predict("addition", [f"{a}+{b}", f"{b}+{a}"])[0].text == str(a + b)
            assert client.predict("reverse", [1, 2, 3, 4, 5, 6]).ints == (3, 2, 1)
            if i % 10 == 0:
                list(client.stream("reverse", [7, 8, 9, 10, 11, 12]))
                with client.session("recall") as session:
                    for symbol in (1, 2, 3):
                        session.step(symbol)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(80)))
        with pytest.raises(ModelNotFound):
            client.predict("no_such_model", [1])


def _moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_every_family_is_exported_and_moves_under_load(metrics_server: tuple[Any, int]) -> None:
    server, port = metrics_server
    before = scrape(port)
    _load(server.target)
    after = scrape(port)

    assert names(after) >= FAMILIES, sorted(FAMILIES - names(after))
    # Calls by model, method and code, with their latency.
    ok = {"code": "OK"}
    assert _moved(before, after, "seqserve_requests_total", model="addition", **ok) >= 80
    assert _moved(before, after, "seqserve_requests_total", method="PredictStream", **ok) >= 8
    assert _moved(before, after, "seqserve_requests_total", method="Session", model="recall") >= 8
    assert _moved(before, after, "seqserve_request_duration_seconds_count", model="reverse") >= 80
    missing = {"model": "_unknown", "code": "NOT_FOUND"}
    assert _moved(before, after, "seqserve_requests_total", **missing) >= 1
    # Batching, decoder occupancy and per-phase times.
    assert _moved(before, after, "seqserve_batch_size_sum", model="addition") >= 160
    # every reverse sequence (80 predicts, 8 streams) in one encoder or greedy-graph call
    assert _moved(before, after, "seqserve_batch_size_sum", model="reverse") >= 88
    # streams always decode step by step on the worker
    assert _moved(before, after, "seqserve_decode_step_sequences_sum", model="reverse") >= 3 * 8
    for model, phase in [
        ("addition", "queue"),
        ("addition", "compute"),
        ("recall", "compute"),
        ("reverse", "queue"),
        ("reverse", "encoder"),
        ("reverse", "decoder_step"),
    ]:
        count = _moved(
            before, after, "seqserve_phase_duration_seconds_count", model=model, phase=phase
        )
        assert count > 0, (model, phase)
    # Sessions, models, build.
    assert _moved(before, after, "seqserve_sessions_opened_total") >= 8
    assert total(after, "seqserve_sessions_open") == 0  # every session was closed
    assert total(after, "seqserve_active_sequences") == 0  # nothing decoding any more
    assert total(after, "seqserve_queue_depth") == 0
    ready = {
        dict(labels)["model"]: v for (n, labels), v in after.items() if n == "seqserve_model_ready"
    }
    assert len(ready) >= 8 and set(ready.values()) == {1.0}, ready
    assert total(after, "seqserve_model_load_seconds", model="addition") > 0
    build = [dict(labels) for (n, labels), _ in after.items() if n == "seqserve_build_info"]
    assert build and build[0]["version"] and build[0]["onnxruntime"], build


def test_metrics_are_off_unless_a_port_is_given(server: Any) -> None:
    """The shared server runs without --metrics-port: no HTTP listener is started."""
    assert "metrics on http" not in server.log
