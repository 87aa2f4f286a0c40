"""Triton's own load generator, `perf_analyzer`, against any KServe v2 server.

bench/setup.sh installs it into bench/.venv-perf: the binary of the tritonclient 2.41.0
wheel, with the CUDA runtime library it links (no GPU used) from the same venv on
`LD_LIBRARY_PATH`, and Debian's libb64-0d.

One point is one perf_analyzer run at one concurrency, in async mode: gRPC unary or
`--streaming`, or HTTP (KServe v2 REST, `-i http`) with JSON or binary tensors (Triton's
binary tensor extension) both ways, with valid inputs from a JSON file (`--input-data`).
Beside perf_analyzer's own figures (throughput, latency percentiles and its server-side
breakdown, read from its CSV) it measures the cost per inference from /proc: the server's
CPU time (user + system of its whole process group) and perf_analyzer's own (its rusage),
over the whole run, divided by the inferences the server counted in the same time (the
`inference_count` of its ModelStatistics). A run that fails is kept, with its exit status
and the end of its output.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench.procs import Server

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-perf"
STATISTICS = "/inference.GRPCInferenceService/ModelStatistics"


def binary() -> tuple[Path, dict[str, str]] | str:
    """perf_analyzer and the environment it runs in; or why it cannot run."""
    exe = VENV / "bin" / "perf_analyzer"
    if not (VENV / ".installed").exists() or not exe.exists():
        log = VENV / "install.log"
        why = log.read_text(errors="replace")[-600:] if log.exists() else "never installed"
        return f"bench/.venv-perf is not installed (run bench/setup.sh): {why}"
    libs = sorted(VENV.glob("lib/python3*/site-packages/nvidia/cuda_runtime/lib"))
    path = ":".join([*(str(p) for p in libs), os.environ.get("LD_LIBRARY_PATH", "")])
    env = {**os.environ, "LD_LIBRARY_PATH": path.rstrip(":")}
    try:
        done = subprocess.run(
            [str(exe), "--version"], env=env, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"perf_analyzer does not start: {exc}"
    if done.returncode != 0:
        return f"perf_analyzer does not start: {(done.stdout + done.stderr).strip()[-600:]}"
    return exe, env


def input_data(
    folder: Path, model: str, peer: bool = False, seed: int = 7, variants: int = 16
) -> Path:
    """Valid rows for `model` (reverse: six symbols; addition: a text like "3+10"), as
    seqserve publishes its input (INPUT; text as BYTES) or, `peer`, as the peers take it
    (`x`: the symbols as INT64, the text already turned into symbols)."""
    from bench.systems import text_symbols

    rng = np.random.default_rng(seed)
    name = "x" if peer else "INPUT"
    rows: list[dict[str, Any]] = []
    for _ in range(variants):
        if model == "addition":
            a, b = rng.integers(1, 11, size=2)
            text = f"{a}+{b}"
            symbols = text_symbols(text)
            value: list[Any] = symbols if peer else [text]
            rows.append({name: {"content": value, "shape": [len(value)]}})
        else:
            values = rng.integers(1, 51, size=6).tolist()
            rows.append({name: {"content": values, "shape": [6]}})
    path = folder / f"pa-input-{model}{'-peer' if peer else ''}.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": rows}))
    return path


def inference_count(target: str, model: str) -> int:
    """The server's ModelStatistics `inference_count` of `model`, summed over versions."""
    from seqserve.kserve.v2 import grpc_service_pb2 as kpb

    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            STATISTICS,
            kpb.ModelStatisticsRequest.SerializeToString,
            kpb.ModelStatisticsResponse.FromString,
        )
        response = call(kpb.ModelStatisticsRequest(name=model), timeout=10)
    return sum(int(s.inference_count) for s in response.model_stats)


def _csv(path: Path) -> dict[str, float]:
    """The last row of perf_analyzer's CSV report (microseconds as it writes them)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    if not rows:
        return {}
    out = {}
    for key, value in rows[-1].items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def run_point(
    target: str,
    server: Server,
    model: str,
    concurrency: int,
    *,
    data: Path,
    out: Path,
    streaming: bool = False,
    http: tuple[str, str] | None = None,
    batch: int = 1,
    window_ms: int = 2000,
    trials: int = 4,
) -> dict[str, Any]:
    """One perf_analyzer run; the dict `bench.report` reads. `http`: (the server's REST
    host:port, "json" or "binary"): the point goes over HTTP, its mode is `http-json` or
    `http-binary`; the inference count is still read over gRPC from `target`."""
    found = binary()
    mode = f"http-{http[1]}" if http else "stream" if streaming else "unary"
    result: dict[str, Any] = {
        "model": model,
        "mode": mode,
        "concurrency": concurrency,
        "batch": batch,
    }
    if isinstance(found, str):
        return {**result, "exit": None, "error": found}
    exe, env = found
    tag = f"{server.name}-{model}-{mode}-b{batch}-c{concurrency}"
    report = out / f"pa-{tag}.csv"
    report.unlink(missing_ok=True)
    cmd = [
        str(exe),
        "-m",
        model,
        "-u",
        http[0] if http else target,
        "-i",
        "http" if http else "grpc",
        "--async",
        "-b",
        str(batch),
        "--concurrency-range",
        str(concurrency),
        "--input-data",
        str(data),
        "--measurement-interval",
        str(window_ms),
        "--max-trials",
        str(trials),
        "--stability-percentage",
        "1000",  # any three windows: this machine is shared; report them as measured
        "-f",
        str(report),
    ]
    if streaming:
        cmd.append("--streaming")
    if http:
        cmd += ["--input-tensor-format", http[1], "--output-tensor-format", http[1]]
    before = inference_count(target, model)
    cpu0 = server.cpu_s()
    gen0 = _children_cpu()
    t0 = time.monotonic()
    log = out / f"pa-{tag}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while proc.poll() is None:  # a server that died leaves perf_analyzer waiting
            if not server.alive() or time.monotonic() > deadline:
                time.sleep(1.0)
                proc.kill()
            time.sleep(0.1)
        proc.wait()
    text = log.read_bytes()
    wall = time.monotonic() - t0
    gen = _children_cpu() - gen0  # perf_analyzer's, reaped by wait()
    cpu = server.cpu_s() - cpu0
    alive = server.alive()
    after = inference_count(target, model) if alive else before
    served = after - before
    row = _csv(report)
    result.update(
        exit=proc.returncode,
        cmd=" ".join(cmd),
        wall_s=wall,
        inferences=served,
        infer_per_s=row.get("Inferences/Second"),
        p50_ms=_ms(row.get("p50 latency")),
        p99_ms=_ms(row.get("p99 latency")),
        avg_ms=_ms(row.get("Avg latency")),
        server_queue_ms=_ms(row.get("Server Queue")),
        server_compute_ms=_ms(
            sum(row.get(k, 0.0) for k in ("Server Compute Input", "Server Compute Infer"))
            + row.get("Server Compute Output", 0.0)
        )
        if row
        else None,
        server_cpu=cpu / wall if wall else None,
        server_cpu_ms=1000 * cpu / served if served else None,
        gen_cpu_ms=1000 * gen / served if served else None,
    )
    if proc.returncode != 0 or not alive:
        tail = text.decode(errors="replace").strip().splitlines()[-6:]
        died = "" if alive else f"{server.name} died: {server.tail(6)}\n"
        result["error"] = died + "\n".join(tail)
    return result


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
