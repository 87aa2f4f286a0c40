"""A cheap closed-loop gRPC load generator.

Each of `concurrency` coroutines sends one request, waits for its answer, and sends the
next, for a fixed time. Requests are serialized once before the run and sent as bytes on
raw `grpc.aio` multicallables (no protobuf work per call; answers are not parsed either),
so the generator spends its time in gRPC itself. A point may be split over several
processes (`procs`), each with its own channel and share of the clients; they start on a
common wall-clock instant and only completions inside the measured window count.

Two shapes: unary (`Predict`, KServe `ModelInfer`) and a bidi session where each step is
one request (`Session`: write one step, read one answer).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import grpc
import numpy as np

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]


@dataclass(frozen=True)
class Load:
    """What to send: a unary method with payloads, or a session with open and step payloads."""

    target: str
    method: str
    payloads: Sequence[bytes]  # unary: requests, used round-robin; session: the steps
    session_open: bytes | None = None  # set for bidi sessions
    per_request: int = 1  # sequences in one request (bulk Predict)


@dataclass
class Window:
    start: float  # wall clock (time.time()) when clients start
    warmup: float
    duration: float

    @property
    def begin(self) -> float:
        return self.start + self.warmup

    @property
    def end(self) -> float:
        return self.begin + self.duration


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, completions in the window
    errors: Counter[str] = field(default_factory=Counter)
    error_sample: str = ""

    def error(self, exc: BaseException) -> None:
        code = exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else type(exc).__name__
        self.errors[code] += 1
        if not self.error_sample:
            details = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            self.error_sample = f"{code}: {details}"[:300]


async def _unary_client(
    call: grpc.aio.UnaryUnaryMultiCallable, load: Load, offset: int, window: Window, tally: Tally
) -> None:
    payloads = load.payloads
    n = len(payloads)
    i = offset
    clock = time.time
    while True:
        t0 = clock()
        if t0 >= window.end:
            return
        try:
            await call(payloads[i % n])
        except grpc.aio.AioRpcError as exc:
            if t0 >= window.begin:
                tally.error(exc)
            await asyncio.sleep(0.001)  # a closed loop must not spin on instant rejections
            continue
        t1 = clock()
        if t0 >= window.begin and t1 <= window.end:
            tally.latencies.append(t1 - t0)
        i += 1


async def _session_client(
    call_factory: grpc.aio.StreamStreamMultiCallable,
    load: Load,
    offset: int,
    window: Window,
    tally: Tally,
) -> None:
    steps = load.payloads
    n = len(steps)
    clock = time.time
    while clock() < window.end:  # reopen the session if the server ends it
        call = call_factory()
        try:
            await call.write(load.session_open)
            if await call.read() is grpc.aio.EOF:
                raise RuntimeError("session closed at open")
            i = offset
            while True:
                t0 = clock()
                if t0 >= window.end:
                    break
                await call.write(steps[i % n])
                if await call.read() is grpc.aio.EOF:
                    raise RuntimeError("session closed mid-stream")
                t1 = clock()
                if t0 >= window.begin and t1 <= window.end:
                    tally.latencies.append(t1 - t0)
                i += 1
            await call.done_writing()
            return
        except (grpc.aio.AioRpcError, RuntimeError) as exc:
            if clock() >= window.begin:
                tally.error(exc)
            call.cancel()
            await asyncio.sleep(0.001)


async def _drive(load: Load, clients: range, window: Window, channels: int) -> Tally:
    tally = Tally()
    options = [*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)]
    opened = [grpc.aio.insecure_channel(load.target, options=options) for _ in range(channels)]
    try:
        for channel in opened:  # a server that died is an error, not a wait without end
            await asyncio.wait_for(channel.channel_ready(), 15)
        coros = []
        for j, k in enumerate(clients):
            channel = opened[j % channels]
            if load.session_open is None:
                call = channel.unary_unary(load.method)
                coros.append(_unary_client(call, load, k, window, tally))
            else:
                factory = channel.stream_stream(load.method)
                coros.append(_session_client(factory, load, k, window, tally))
        await asyncio.sleep(max(0.0, window.start - time.time()))
        await asyncio.gather(*coros)
    finally:
        for channel in opened:
            await channel.close()
    return tally


def _worker(
    load: Load, clients: range, window: Window, channels: int
) -> tuple[bytes, dict[str, int], str, float]:
    cpu0 = time.process_time()
    tally = asyncio.run(_drive(load, clients, window, max(1, min(channels, len(clients)))))
    cpu = time.process_time() - cpu0
    lat = np.asarray(tally.latencies, dtype=np.float64).tobytes()
    return lat, dict(tally.errors), tally.error_sample, cpu


class Generator:
    """A pool of generator processes, started once and reused for every point."""

    def __init__(self, procs: int = 1, clients_per_channel: int = 0) -> None:
        self.procs = max(1, procs)
        self.clients_per_channel = clients_per_channel  # 0: one channel per process
        ctx = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=self.procs, mp_context=ctx)
        # Start the workers now (grpc import) so the first point's window is not eaten by it.
        list(self.pool.map(_noop, range(self.procs)))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def run(
        self, load: Load, concurrency: int, duration: float, warmup: float
    ) -> dict[str, object]:
        procs = min(self.procs, concurrency)
        window = Window(start=time.time() + 0.5, warmup=warmup, duration=duration)
        shares = [range(k, concurrency, procs) for k in range(procs)]
        per = self.clients_per_channel
        futures = [
            self.pool.submit(_worker, load, share, window, -(-len(share) // per) if per else 1)
            for share in shares
        ]
        lats: list[np.ndarray] = []
        errors: Counter[str] = Counter()
        sample = ""
        cpu = 0.0
        for fut in futures:
            raw, errs, first, used = fut.result(timeout=window.end - time.time() + 120)
            lats.append(np.frombuffer(raw, dtype=np.float64))
            errors.update(errs)
            sample = sample or first
            cpu += used
        result = summarize(np.concatenate(lats), duration, load.per_request, errors, sample, procs)
        # generator CPU over its whole run (warm-up and window), as a share of one core
        result["gen_cpu"] = cpu / (window.end - window.start + 0.5)
        return result


def _noop(_: int) -> None:
    return None


def summarize(
    latencies: np.ndarray,
    duration: float,
    per_request: int,
    errors: Counter[str] | dict[str, int],
    error_sample: str = "",
    procs: int = 1,
) -> dict[str, object]:
    """Percentiles in milliseconds and rates per second of one measured window."""
    count = int(latencies.size)
    ms = latencies * 1e3
    pct = (lambda q: float(np.percentile(ms, q))) if count else (lambda q: float("nan"))
    return {
        "requests": count,
        "errors": int(sum(errors.values())),
        "error_codes": dict(errors),
        "error_sample": error_sample,
        "duration_s": duration,
        "req_per_s": count / duration,
        "seq_per_s": count * per_request / duration,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": float(ms.max()) if count else float("nan"),
        "mean_ms": float(ms.mean()) if count else float("nan"),
        "gen_procs": procs,
    }
