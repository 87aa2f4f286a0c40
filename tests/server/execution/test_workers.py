"""--worker-policy: the engines' worker threads under SCHED_IDLE, everything else as it was."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seqserve.server.execution import workers
from seqserve.server.settings import Settings, WorkerPolicy

from ..conftest import answers

if TYPE_CHECKING:
    from conftest import RunningServer

linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")


def thread_policies(server: RunningServer) -> dict[str, list[int]]:
    """Each OS thread name of the server, with the scheduling policy of its threads."""
    out: dict[str, list[int]] = {}
    for tid, name in server.threads().items():
        out.setdefault(name, []).append(os.sched_getscheduler(tid))
    return out


def worker_threads(policies: dict[str, list[int]]) -> dict[str, list[int]]:
    return {n: p for n, p in policies.items() if n.startswith(("batcher-", "decode-"))}


@linux_only
def test_idle_workers_serve_the_same_answers(launch_server, server, models_dir: Path) -> None:  # type: ignore[no-untyped-def]
    idle = launch_server(models_dir, "--worker-policy", "idle")
    assert answers(idle.target) == answers(server.target)

    policies = thread_policies(idle)
    engines = worker_threads(policies)
    # a named thread per engine (per loaded version): decode workers and batchers
    assert {"decode-reverse", "batcher-additio", "batcher-recall-"} <= set(engines)
    assert {p for ps in engines.values() for p in ps} == {os.SCHED_IDLE}, engines
    others = [p for n, ps in policies.items() if n not in engines for p in ps]
    assert others and set(others) == {os.SCHED_OTHER}  # the event loop and gRPC's threads

    default = thread_policies(server)
    assert worker_threads(default) and {p for ps in default.values() for p in ps} == {
        os.SCHED_OTHER
    }
    assert idle.stop(signal.SIGTERM) == 0


@linux_only
def test_a_refused_policy_leaves_the_worker_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    ran = threading.Event()
    with caplog.at_level(logging.WARNING):
        workers.start(ran.set, "batcher-test", WorkerPolicy.IDLE).join(10)
    assert ran.is_set()
    assert "batcher-test: cannot run under SCHED_IDLE" in caplog.text


def test_idle_is_refused_where_the_platform_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "SCHED_IDLE", raising=False)
    with pytest.raises(ValueError, match="--worker-policy normal"):
        Settings(worker_policy=WorkerPolicy.IDLE)
    assert Settings().worker_policy is WorkerPolicy.NORMAL
