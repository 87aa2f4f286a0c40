"""Many concurrent calls on one client: each is answered, and each is counted.

A crowd of 1,500 `PredictStream` calls through one `AsyncClient` (one connection) is far
above the server's per-connection stream limit (100). Every call must come back with its
answer or a clear overload/unavailability error, never CANCELLED, and the server's
request metrics must count exactly the calls made: a stream the transport refuses never
reaches the server's code and would be missing from them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.metrics_support import free_port, scrape, total

from seqserve.client import AsyncClient, Overloaded, SeqServeError, Unavailable

if TYPE_CHECKING:
    from conftest import RunningServer

CALLS = 1500
CLEAR_REFUSALS = (Overloaded, Unavailable)


async def crowd(target: str) -> Counter[str]:
    outcomes: Counter[str] = Counter()

    async def one(client: AsyncClient) -> None:
        try:
            async for _ in client.stream("reverse", [1, 2, 3, 4, 5, 6], timeout=120):
                pass
            outcomes["OK"] += 1
        except CLEAR_REFUSALS as exc:
            outcomes[type(exc).__name__] += 1
        except SeqServeError as exc:
            outcomes[f"{type(exc).__name__}: {exc}"] += 1

    async with AsyncClient(target) as client:
        await client.info("reverse")  # the manifest once, so every call below is a stream
        await asyncio.gather(*(one(client) for _ in range(CALLS)))
    return outcomes


def test_a_crowd_of_streams_on_one_client_is_answered_and_counted(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    port = free_port()
    server = launch_server(repo, "--metrics-port", str(port))
    outcomes = asyncio.run(crowd(server.target))
    unclear = {k: n for k, n in outcomes.items() if k not in ("OK", "Overloaded", "Unavailable")}
    assert not unclear, outcomes
    assert sum(outcomes.values()) == CALLS
    counted = total(scrape(port), "seqserve_requests_total", method="PredictStream")
    assert counted == CALLS, f"{counted} of {CALLS} calls counted; outcomes {dict(outcomes)}"
    assert server.process.poll() is None
