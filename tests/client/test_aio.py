"""`AsyncClient` against the real server: the same round trips as the blocking client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cases import MODELS, PREDICT_CASES, RECALL, check_regression, check_shape

from seqserve.client import (
    AsyncClient,
    InvalidInput,
    ModelNotFound,
    Prediction,
    SessionNotFound,
    Snapshot,
    Symbol,
    Unavailable,
)

if TYPE_CHECKING:
    from conftest import RunningServer


async def test_predict_every_model(server_target: str) -> None:
    async with AsyncClient(server_target) as client:
        for model, x, field, expected in PREDICT_CASES:
            result = await client.predict(model, x)  # type: ignore[call-overload]
            assert isinstance(result, Prediction)
            assert getattr(result, field) == expected, model
            check_shape(result, model)
        check_regression(await client.predict("sum_regression", [40, 2]))
        names = {m.name for m in await client.models()}
        assert names >= MODELS
        assert (await client.info("reverse")).kind == "seq2seq"
        assert (await client.health()).serving


async def test_concurrent_calls_on_one_client(server_target: str) -> None:
    async with AsyncClient(server_target) as client:
        sums = [(a, b) for a in range(1, 11) for b in range(1, 11)]
        results = await asyncio.gather(*(client.predict("addition", f"{a}+{b}") for a, b in sums))
        assert [r.text for r in results] == [str(a + b) for a, b in sums]


async def test_batch(server_target: str) -> None:
    async with AsyncClient(server_target) as client:
        results = await client.predict("addition", ["1+1", "3+10"])
        assert [r.text for r in results] == ["2", "13"]


async def test_stream(server_target: str) -> None:
    async with AsyncClient(server_target) as client:
        events = [e async for e in client.stream("reverse", [1, 2, 3, 4, 5, 6])]
    assert [(e.position, e.symbol) for e in events[:-1] if isinstance(e, Symbol)] == [
        (0, 3), (1, 2), (2, 1)
    ]  # fmt: skip
    assert isinstance(events[-1], Prediction) and events[-1].ints == (3, 2, 1)


async def test_session(server_target: str) -> None:
    (first, first_next), (second, second_next) = RECALL
    async with AsyncClient(server_target) as client:
        async with client.session("recall") as session:
            assert session.id and session.model == "recall"
            assert [(await session.step(s)).symbol for s in first] == first_next
            await session.reset()
            assert [(await session.step(s)).symbol for s in second[:2]] == second_next[:2]
            saved = await session.snapshot()
            with pytest.raises(InvalidInput, match="recall expects 1 int in 0-4; got 5"):
                await session.step(5)  # checked here: the stream goes on
            assert (await session.step(second[2])).symbol == second_next[2]
        assert isinstance(saved, Snapshot) and saved.steps == 2
        async with client.session("recall", snapshot=saved) as resumed:
            assert [(await resumed.step(s)).symbol for s in second[2:]] == second_next[2:]
        with pytest.raises(SessionNotFound):
            async with client.session("recall", session_id="feed"):
                pass


async def test_errors(server_target: str) -> None:
    async with AsyncClient(server_target) as client:
        with pytest.raises(ModelNotFound, match="model 'nope' not found"):
            await client.predict("nope", [1])
        with pytest.raises(InvalidInput, match='got "3\\+11"'):
            await client.predict("addition", "3+11")
        with pytest.raises(InvalidInput, match="input 1: reverse expects 6 ints"):
            await client.predict("reverse", [[1, 2, 3, 4, 5, 6], [1]])
        with pytest.raises(ModelNotFound):
            [e async for e in client.stream("nope", [1])]
    async with AsyncClient("127.0.0.1:1", timeout=5) as dead:
        with pytest.raises(Unavailable):
            await dead.models()


async def test_close_of_a_session_the_server_evicted(
    launch_server: Callable[..., RunningServer], models_dir: Path
) -> None:
    """The server dropped the idle session: closing it is fine, as with `Client`."""
    server = launch_server(models_dir, "--session-idle-timeout", "0.3")
    (first, first_next), _ = RECALL
    async with AsyncClient(server.target) as client:
        session = await client.session("recall").open()
        assert (await session.step(first[0])).symbol == first_next[0]
        await asyncio.sleep(1.0)  # well past the idle timeout: evicted
        with pytest.raises(SessionNotFound, match=session.id):
            await session.step(first[1])
        await session.close()
        assert session.id == ""
        async with client.session("recall") as fresh:
            await asyncio.sleep(1.0)
        assert fresh.id == ""  # closed by the context manager without raising
