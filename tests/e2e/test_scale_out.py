"""Scale-out: three server processes on loopback behind one `round_robin` client.

Under load every replica gets a share of the calls (each one's own /metrics says how
many it answered); then one replica is killed with SIGKILL in the middle of the load and
no call fails: the client's retry policy replays the idempotent calls that were in flight
on a live replica, and round robin stops picking the dead one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from seqserve.client import Client

from .metrics_support import free_port, scrape, total

REPLICAS = 3
WORKERS = 6


def _addition(i: int) -> tuple[str, str]:
    a, b = i % 10 + 1, (i // 10) % 10 + 1
    return f"{a}+{b}", str(a + b)


def _answered(port: int) -> float:
    return total(scrape(port), "seqserve_requests_total", method="Predict", code="OK")


@pytest.fixture
def replicas(models_dir: Path, launch_server: Callable[..., Any]) -> list[tuple[Any, int]]:
    """Three servers on the exported models, each with its own metrics port."""
    started = []
    for _ in range(REPLICAS):
        metrics_port = free_port()
        started.append(
            (launch_server(models_dir, "--metrics-port", str(metrics_port)), metrics_port)
        )
    return started


def test_round_robin_spreads_load_and_survives_a_sigkilled_replica(
    replicas: list[tuple[Any, int]],
) -> None:
    target = ",".join(server.target for server, _ in replicas)
    before = [_answered(port) for _, port in replicas]

    with Client(target, timeout=20) as client:
        client.health()  # connections to every replica come up

        def call(i: int) -> tuple[str, str]:
            text, want = _addition(i)
            got = client.predict("addition", text).text
            assert got is not None
            return got, want

        # 1. Load: every replica answers a fair share.
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(call, range(300)))
        assert all(got == want for got, want in results)
        shares = [_answered(port) - b for (_, port), b in zip(replicas, before, strict=True)]
        assert sum(shares) >= 300  # the client also fetched the manifest once (GetModel)
        assert min(shares) >= 300 / REPLICAS / 3, shares  # round robin, not pick-first

        # 2. SIGKILL one replica while calls are in flight: none fails.
        victim, _ = replicas[0]
        killed = threading.Event()

        def call_and_kill(i: int) -> tuple[str, str]:
            if i == 100:
                victim.process.send_signal(signal.SIGKILL)
                killed.set()
            return call(i)

        survivors = replicas[1:]
        middle = [_answered(port) for _, port in survivors]
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(call_and_kill, range(600)))
        assert killed.is_set()
        assert victim.process.wait(10) == -signal.SIGKILL
        assert [got for got, _ in results] == [want for _, want in results]

        # After the kill the survivors answered everything the victim no longer could.
        after = [_answered(port) - m for (_, port), m in zip(survivors, middle, strict=True)]
        assert sum(after) >= 600 - 100 - WORKERS, after
        assert min(after) > 0, after
