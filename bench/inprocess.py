"""B0, the limit: the exported ONNX graphs called in-process in a tight loop, no gRPC.

For each scenario model it times batch 1 and a sweep of batch sizes (one onnxruntime
thread, as the server uses by default) and reports the time per sequence and the best
sequences/s. `reverse` runs the whole greedy decode loop (encoder once, then one decoder
step per output symbol, argmax and one-hot feedback), and, as a row of its own, the same
decode in one call of its `greedy.onnx` (what seqserve's idle fast lane runs); `addition`
one graph call plus argmax; `recall` one step of the step graph with the state carried.

    python -m bench.inprocess --models models --seconds 0.5 > b0.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.onnx_graphs import Graphs, model_folder

BATCHES = (1, 8, 32, 64, 128, 256, 512, 1024)


def _inputs(graphs: Graphs, batch: int, rng: np.random.Generator) -> np.ndarray:
    low = 1 if graphs.kind.endswith("SEQ2SEQ") and graphs.start == 0 else 0
    high = max(graphs.in_card, 2)
    if graphs.name == "addition":  # well-formed " a+b" texts as symbol indices (alphabet order)
        return np.tile(np.array([11, 11, 3, 10, 4], dtype=np.int64), (batch, 1))
    return rng.integers(low, high, size=(batch, graphs.in_len), dtype=np.int64)


def _time(call: Callable[[], object], seconds: float) -> tuple[int, float]:
    call()  # warm up
    calls, start = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls, elapsed


def measure(graphs: Graphs, batch: int, seconds: float, composed: bool = False) -> dict[str, float]:
    """`composed`: decode with the greedy graph instead of the step-graph loop."""
    rng = np.random.default_rng(0)
    if composed:
        x = _inputs(graphs, batch, rng)

        def call() -> None:
            graphs.greedy(x)

    elif graphs.kind.endswith("STATEFUL_STEP"):
        symbols = rng.integers(0, graphs.in_card, size=batch, dtype=np.int64)
        state = list(graphs.zero_state(batch))

        def call() -> None:
            _, state[0], state[1] = graphs.step(symbols, state[0], state[1])

    else:
        x = _inputs(graphs, batch, rng)

        def call() -> None:
            graphs.predict(x)

    calls, elapsed = _time(call, seconds)
    per_seq = elapsed / (calls * batch)
    return {"batch": batch, "ms_per_seq": per_seq * 1e3, "seq_per_s": 1.0 / per_seq}


def run(models: Path, names: list[str], seconds: float, threads: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in names:
        graphs = Graphs(model_folder(models, name), threads=threads)
        sweep = [measure(graphs, b, seconds) for b in BATCHES]
        best = max(sweep, key=lambda r: r["seq_per_s"])
        out[name] = {"batch1": sweep[0], "best": best, "sweep": sweep, "threads": threads}
        if "greedy" in graphs.sessions:
            sweep = [measure(graphs, b, seconds, composed=True) for b in BATCHES]
            best = max(sweep, key=lambda r: r["seq_per_s"])
            out[f"{name} (greedy.onnx)"] = {"batch1": sweep[0], "best": best, "sweep": sweep}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--names", default="reverse,addition,recall")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per batch size")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()
    result = run(args.models, args.names.split(","), args.seconds, args.threads)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
