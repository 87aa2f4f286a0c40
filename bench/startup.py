"""Startup time and memory of seqserve-server: process start -> every model SERVING, and RSS.

    .venv/bin/python bench/startup.py [--models models] [--runs 5] [--write docs/benchmarks.md]

Each run starts `python -m seqserve.server --port 0` as a subprocess, polls grpc.health.v1
(service "seqserve.v1.SeqServe") every 2 ms until SERVING, checks with ListModels that every
model is ready, then reads the server's resident set size (VmRSS) and its peak (VmHWM) from
/proc. Reports the median and the range over the runs. With `--write` it replaces the
"Startup and memory" section of the benchmarks page (between its markers), keeping the rest.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- startup:begin -->", "<!-- startup:end -->"


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


Run = tuple[float, float, float, int, int]  # seconds, RSS MB, peak MB, models, versions


def one_run(models: Path, workdir: Path) -> Run:
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "seqserve.server", "--models", str(models), "--port", "0"]
    command += ["--port-file", str(port_file), "--log-level", "WARNING"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        while not port_file.exists():
            if process.poll() is not None:
                raise RuntimeError("server exited during startup")
            time.sleep(0.002)
        target = f"127.0.0.1:{port_file.read_text().strip()}"
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="seqserve.v1.SeqServe")
            while True:
                try:
                    if health.Check(request, timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.002)
            seconds = time.perf_counter() - started
            listed = pb_grpc.SeqServeStub(channel).ListModels(pb.ListModelsRequest()).models
            if not all(m.ready for m in listed):
                raise RuntimeError(f"not ready: {[m.info.name for m in listed if not m.ready]}")
        rss, peak = rss_mb(process.pid)
        return seconds, rss, peak, len(listed), sum(len(m.versions) for m in listed)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def section(models: Path, runs: list[Run], command: str) -> str:
    seconds = [r[0] * 1e3 for r in runs]
    rss = [r[1] for r in runs]
    peak = [r[2] for r in runs]
    cpu = f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    load = os.getloadavg()[0]
    return "\n".join(
        [
            BEGIN,
            "## Startup and memory",
            "",
            f"Process start to every model SERVING (health `seqserve.v1.SeqServe`), and the "
            f"server's memory with all {runs[0][3]} models ({runs[0][4]} versions) of "
            f"`{models.name}/` loaded and warmed; median of {len(runs)} runs (min-max), {cpu}, "
            f"Python {platform.python_version()}, load average {load:.1f} while measuring "
            "(the machine is shared). Most of the time is Python importing grpc, onnxruntime, "
            "numpy and pydantic; the server log's `serving N/N models in X ms` line gives "
            "the repository load itself (hash checks, onnxruntime sessions, warm-up).",
            "",
            "| measure | median | range | target |",
            "|---|---|---|---|",
            f"| start -> all SERVING | {statistics.median(seconds):.0f} ms | "
            f"{min(seconds):.0f}-{max(seconds):.0f} ms | <= 1500 ms |",
            f"| RSS, all models loaded | {statistics.median(rss):.0f} MB | "
            f"{min(rss):.0f}-{max(rss):.0f} MB | <= 200 MB |",
            f"| peak RSS (VmHWM) | {statistics.median(peak):.0f} MB | "
            f"{min(peak):.0f}-{max(peak):.0f} MB | |",
            "",
            f"Command: `{command}`",
            END,
        ]
    )


def write(page: Path, text: str) -> None:
    old = page.read_text() if page.exists() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    page.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path, help="update this page's startup section")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(args.models, Path(tmp)) for _ in range(args.runs)]
    for seconds, rss, peak, count, _ in runs:
        print(
            f"{count} models SERVING in {seconds * 1e3:.0f} ms; RSS {rss:.0f} MB (peak {peak:.0f})"
        )
    command = "python bench/startup.py " + " ".join(sys.argv[1:])
    text = section(args.models, runs, command.strip())
    print(text)
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
