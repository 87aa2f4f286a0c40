"""The engines' worker threads, and the CPU scheduling policy they run under.

Each batcher and each seq2seq decode worker owns one thread, started here. The event-loop
thread feeds them: it reads requests off gRPC, validates them and queues their items, and
a worker can only batch what the loop has handed it. gRPC's own threads carry every call
in and out. So on a machine with few cores, a worker busy in an onnxruntime call can keep
the front end waiting for a core while it holds the very requests the worker would batch
next; the CPUs then idle in between.

`--worker-policy`:
- `normal`: the workers share the CPUs with every other thread as the OS sees fit.
- `idle`: the workers run under Linux's SCHED_IDLE policy. They use only the CPU time no
  ordinary thread wants, and an ordinary thread that wakes up runs at once in their place,
  so the front end never waits behind them: on a few cores, many concurrent callers are
  served faster (`docs/benchmarks.md` has the figures). The price: a worker gets only what
  the host's other ordinary threads leave, and a worker that is waiting for a core while it
  holds Python's GIL holds up the event loop too. It suits a server that has its CPUs
  mostly to itself (a dedicated host, or a container with its own CPU share);
  `docs/server.md` says how it fares beside CPU-bound processes.

The threads also carry their name to the OS (Linux), so `top -H` and `ps -L` show which
model's worker is busy: `decode-reverse`, `batcher-additio` (the kernel keeps 15 bytes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from seqserve.server.settings import WorkerPolicy

log = logging.getLogger(__name__)


def start(target: Callable[[], None], name: str, policy: WorkerPolicy) -> threading.Thread:
    """A daemon thread running `target` under `policy`, started."""
    thread = threading.Thread(target=_run, args=(target, policy), name=name, daemon=True)
    thread.start()
    return thread


def _run(target: Callable[[], None], policy: WorkerPolicy) -> None:
    with contextlib.suppress(OSError):  # no /proc (not Linux): the name stays Python's own
        comm = Path(f"/proc/self/task/{threading.get_native_id()}/comm")
        comm.write_text(threading.current_thread().name[:15])
    if policy is WorkerPolicy.IDLE:
        try:  # lowering one's own policy needs no privilege; a sandbox may still refuse it
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            log.warning(
                "%s: cannot run under SCHED_IDLE (%s); running at normal priority",
                threading.current_thread().name,
                exc,
            )
    target()
