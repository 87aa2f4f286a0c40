"""Fixtures for the client tests, all against real servers on loopback.

The root conftest provides `server_target` (one server on the exported models),
`models_dir` and `launch_server`. Here: a connected `Client` and a runner for the
`seqserve` console script.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_support import CLI, Completed, run_cli

from seqserve.client import Client


@pytest.fixture(scope="session")
def client(server_target: str) -> Iterator[Client]:
    with Client(server_target, timeout=30) as connected:
        yield connected


@pytest.fixture(scope="session")
def cli(server_target: str) -> CLI:
    """Run `seqserve ARGS...` against the shared test server."""

    def run(*args: str, stdin: str | None = None, **env: str) -> Completed:
        return run_cli(server_target, *args, stdin=stdin, **env)

    return run
