"""A measurement, not a server mode: several seqserve processes on one port (`SO_REUSEPORT`).

    python -m bench.reuseport --models models                # 1 and 2 processes, measured
    python -m bench.reuseport --serve -- --models models --port 50051   # one such process

`--serve` runs the stock server with one change: its gRPC socket is opened with
`SO_REUSEPORT` (seqserve turns it off so that a second server can never bind a port
silently), so the kernel spreads incoming connections over every process bound to the
port. Each process has its own models, batchers and session store: a connection (and so
every call of one gRPC channel, a seqserve.v1 session stream, a KServe sequence sent on
one channel) stays on one process, but nothing is shared between them.

The measurement starts 1, then 2 such processes on one port and drives `reverse` and
`addition` over seqserve.v1 at c=64 with the project's generator (16 connections, so the
kernel has connections to spread), and prints one JSON line per point: throughput, p50 and
p99, and the servers' CPU time per sequence (all processes' trees, from /proc).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def serve(argv: list[str]) -> int:
    import grpc

    from seqserve.server.__main__ import main

    plain = grpc.aio.server

    def reuseport(*args: Any, options: Any = None, **kwargs: Any) -> Any:
        opts = [(k, 1 if k == "grpc.so_reuseport" else v) for k, v in (options or [])]
        return plain(*args, options=opts, **kwargs)

    grpc.aio.server = reuseport
    return main(argv)


def measure(models: Path, out: Path, seconds: float, counts: list[int]) -> list[dict[str, Any]]:
    import asyncio

    from bench import systems
    from bench.loadgen import Generator
    from bench.procs import Server, free_port

    results = []
    gen = Generator(1, clients_per_channel=4)
    try:
        for n in counts:
            port = free_port()
            target = f"127.0.0.1:{port}"
            servers = [
                Server(
                    f"reuseport-{n}-{k}",
                    [
                        sys.executable,
                        "-m",
                        "bench.reuseport",
                        "--serve",
                        "--",
                        "--models",
                        str(models),
                        "--port",
                        str(port),
                        "--log-level",
                        "WARNING",
                        "--worker-policy",
                        "idle",
                        "--metrics-port",
                        "0",
                    ],
                    out / f"reuseport-{n}-{k}.log",
                    {"PYTHONPATH": str(ROOT)},
                )
                for k in range(n)
            ]
            try:
                for server in servers:
                    server.start()
                    asyncio.run(systems.wait_seqserve(target, ["reverse", "addition"], server, 90))
                time.sleep(5)  # the answer may have come from an earlier process: let all load
                dead = [s.name for s in servers if not s.alive()]
                if dead:
                    raise RuntimeError(f"{dead} exited: {servers[0].tail()}")
                for scenario in ("reverse", "addition"):
                    load = systems.seqserve_load(target, systems.SCENARIOS[scenario])
                    cpu0 = sum(s.cpu_s() for s in servers)
                    t0 = time.monotonic()
                    point = gen.run(load, 64, seconds, 1.0)
                    cores = (sum(s.cpu_s() for s in servers) - cpu0) / (time.monotonic() - t0)
                    point.update(
                        processes=n,
                        scenario=scenario,
                        server_cores=cores,
                        server_cpu_ms=1000 * cores / point["seq_per_s"],
                        gen_cpu_ms=1000 * point["gen_cpu"] / point["seq_per_s"],
                    )
                    results.append(point)
                    keys = ("processes", "scenario", "seq_per_s", "p50_ms", "p99_ms")
                    shown = {k: point[k] for k in keys}
                    shown.update(
                        server_cores=round(cores, 2),
                        server_cpu_ms=round(point["server_cpu_ms"], 3),
                        gen_cpu_ms=round(point["gen_cpu_ms"], 3),
                        errors=point["errors"],
                    )
                    print(json.dumps(shown), flush=True)
            finally:
                for server in servers:
                    server.stop()
    finally:
        gen.close()
    return results


def main() -> int:
    if "--serve" in sys.argv:
        rest = sys.argv[sys.argv.index("--serve") + 1 :]
        return serve(rest[1:] if rest[:1] == ["--"] else rest)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    counts = [int(n) for n in args.processes.split(",")]
    points = measure(args.models, args.out, args.seconds, counts)
    (args.out / "reuseport.json").write_text(json.dumps(points, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
