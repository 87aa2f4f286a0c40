"""Several servers behind one target: round robin spreads calls, retries hide a dead one.

The servers are told apart by what they serve: the shared server has the exported
`addition`, the second one a copy of it numbered version 1000, and every answer says
which version (so which server) produced it.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from client_support import copy_model, run_cli

from seqserve.client import Client

OTHER_VERSION = 1000


def test_round_robin_spreads_calls_and_survives_a_killed_server(
    server_target: str,
    models_dir: Path,
    tmp_path: Path,
    launch_server: Callable[..., Any],
) -> None:
    copy_model(models_dir, "addition", tmp_path / "models", OTHER_VERSION)
    other = launch_server(tmp_path / "models")
    with Client(server_target) as direct:
        shared_version = direct.info("addition").version
    target = f"{server_target},{other.target}"

    with Client(target, timeout=10) as client:
        client.health()  # both connections come up
        seen = Counter(client.predict("addition", "3+10").version for _ in range(100))
        assert set(seen) == {shared_version, OTHER_VERSION}
        assert min(seen.values()) >= 30, seen  # round robin, not pick-first

        # Kill one server under load: idempotent calls keep succeeding (retry policy).
        done = threading.Event()
        answers: list[str | None] = []

        def call(i: int) -> tuple[str | None, int]:
            result = client.predict("addition", f"{i % 10 + 1}+1")
            if i == 100:
                other.process.send_signal(signal.SIGKILL)
                done.set()
            return result.text, result.version

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(call, range(300)))
        assert done.is_set()
        answers = [text for text, _ in results]
        assert answers == [str(i % 10 + 2) for i in range(300)]
        after = Counter(version for _, version in results[150:])
        assert set(after) == {shared_version}, after

    # The CLI takes the same comma-separated target.
    done_cli = run_cli(f"{server_target},{server_target}", "predict", "addition", "3+10")
    assert (done_cli.code, done_cli.out) == (0, "13\n")
