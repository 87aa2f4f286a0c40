"""Soak: 64 concurrent clients mix every model, Predict, PredictStream and sessions.

Every request must be answered exactly once with the reference answer (computed first, one
request at a time), with zero errors; the server's RSS must stay flat (< 10% growth from
the end of the first quarter to the end). `SEQSERVE_SOAK_SECONDS` sets the duration
(`make soak`: 60 s; `make test`: 10 s).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import grpc.aio
import pytest

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import SOAK_SECONDS, rss_bytes
from .workload import as_message, key, matches, valid_input

if TYPE_CHECKING:
    from conftest import RunningServer

pytestmark = pytest.mark.slow  # full run: make fuzz / make soak

CLIENTS = 64
CHANNELS = 4
POOL = 16  # reference inputs per model
RECALL_RUN = [3, 0, 1, 2, 4, 0, 1, 2]


@dataclass
class Reference:
    inputs: dict[str, list[pb.Input]]
    answers: dict[str, list[tuple[object, ...]]]
    steps: list[int]  # recall: the symbol predicted after each of RECALL_RUN
    seq2seq: set[str]


@dataclass
class Stats:
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def reference(target: str) -> Reference:
    rng = random.Random(5)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        models = {m.info.name: m.info for m in stub.ListModels(pb.ListModelsRequest()).models}
        inputs: dict[str, list[pb.Input]] = {}
        answers: dict[str, list[tuple[object, ...]]] = {}
        for name, info in sorted(models.items()):
            if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
                continue
            inputs[name] = [as_message(valid_input(info, rng)) for _ in range(POOL)]
            answers[name] = [
                key(stub.Predict(pb.PredictRequest(model=name, inputs=[x]), timeout=10).results[0])
                for x in inputs[name]
            ]
        replies = stub.Session(iter(session_messages()), timeout=10)
        steps = [r.step.symbol for r in replies if r.WhichOneof("event") == "step"]
    seq2seq = {n for n, i in models.items() if i.kind == pb.SERVING_KIND_SEQ2SEQ}
    return Reference(inputs, answers, steps, seq2seq)


def session_messages(state: pb.SessionState | None = None) -> list[pb.SessionRequest]:
    opening = pb.SessionOpen(model="recall")
    if state is not None:
        opening.state.CopyFrom(state)
    out = [pb.SessionRequest(open=opening)]
    out += [pb.SessionRequest(step=pb.SessionStep(symbol=s)) for s in RECALL_RUN]
    out.append(pb.SessionRequest(close=pb.SessionClose()))
    return out


async def predict(stub: pb_grpc.SeqServeStub, ref: Reference, rng: random.Random, s: Stats) -> None:
    name = rng.choice(sorted(ref.inputs))
    picks = [rng.randrange(POOL) for _ in range(rng.randint(1, 4))]
    request = pb.PredictRequest(model=name, inputs=[ref.inputs[name][i] for i in picks])
    label = f"predict:{name}"
    s.sent[label] += 1
    if rng.random() < 0.5 or name in ref.seq2seq:
        finals = []
        symbols = 0
        async for event in stub.PredictStream(request, timeout=30):
            if event.WhichOneof("event") == "result":
                finals.append(event.result)
            else:
                symbols += 1
        assert len(finals) == 1, f"{label}: {len(finals)} final results"
        results = list(finals[0].results)
    else:
        results = list((await stub.Predict(request, timeout=30)).results)
    assert len(results) == len(picks), label
    for result, index in zip(results, picks, strict=True):
        assert matches(result, ref.answers[name][index]), f"{label}: wrong answer"
    s.answered[label] += 1


async def session(stub: pb_grpc.SeqServeStub, ref: Reference, s: Stats) -> None:
    s.sent["session"] += 1
    call = stub.Session(timeout=30)
    steps = []
    for message in session_messages():
        await call.write(message)
        reply = await call.read()
        if reply.WhichOneof("event") == "step":
            steps.append(reply.step.symbol)
    await call.done_writing()
    assert steps == ref.steps, "session steps differ from the reference"
    s.answered["session"] += 1


async def client(
    stub: pb_grpc.SeqServeStub, ref: Reference, seed: int, until: float, s: Stats
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        try:
            if rng.random() < 0.15:
                await session(stub, ref, s)
            else:
                await predict(stub, ref, rng, s)
        except (grpc.aio.AioRpcError, AssertionError) as exc:
            s.errors.append(repr(exc)[:300])


async def soak(target: str, ref: Reference, seconds: float, pid: int) -> tuple[Stats, list[int]]:
    stats = Stats()
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    stubs = [pb_grpc.SeqServeStub(c) for c in channels]
    until = time.monotonic() + seconds
    rss: list[int] = []

    async def sample() -> None:
        for fraction in (0.25, 1.0):
            await asyncio.sleep(max(0.0, until - time.monotonic() - seconds * (1 - fraction)))
            rss.append(rss_bytes(pid))

    tasks = [client(stubs[i % CHANNELS], ref, i, until, stats) for i in range(CLIENTS)]
    await asyncio.gather(sample(), *tasks)
    for channel in channels:
        await channel.close()
    return stats, rss


def test_soak(repo: Path, launch_server: Callable[..., RunningServer]) -> None:
    server = launch_server(repo)
    ref = reference(server.target)
    started = time.monotonic()
    stats, rss = asyncio.run(soak(server.target, ref, SOAK_SECONDS, server.process.pid))
    elapsed = time.monotonic() - started
    total = sum(stats.answered.values())
    growth = rss[1] / rss[0] - 1
    print(
        f"\nsoak: {CLIENTS} clients, {elapsed:.1f} s, {total} requests answered "
        f"({total / elapsed:.0f}/s), {len(stats.errors)} errors, by kind {dict(stats.answered)}, "
        f"RSS {rss[0] / 2**20:.1f} -> {rss[1] / 2**20:.1f} MiB ({growth:+.1%})"
    )
    assert stats.errors == [], stats.errors[:5]
    assert stats.sent == stats.answered
    assert all(stats.answered[f"predict:{name}"] > 0 for name in ref.inputs)
    assert stats.answered["session"] > 0
    assert growth < 0.10
    assert server.process.poll() is None
