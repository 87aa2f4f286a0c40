"""Server subprocesses for the benchmark: start in their own process group, measure, stop.

Every server runs on loopback in a new session (process group) so that stopping it also
stops what it spawned (tritonserver, MLServer workers). Stopping sends SIGTERM to the
leader, waits, then SIGKILLs the group: no server is left holding a port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_usage(pgid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds) summed over every live process of a process group."""
    rss = cpu = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # after the command: state ppid pgrp ... field 24 (index 21 here) is rss in pages
            if int(fields[2]) == pgid:
                rss += int(fields[21]) * PAGE
                cpu += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
        except (OSError, IndexError, ValueError):
            continue
    return rss / 1e6, cpu / TICK


class Server:
    """One server subprocess; its stdout and stderr go to `log`."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.cmd = cmd
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: str | None = None  # host:port of its KServe REST port, when it has one

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # a restart keeps what the last run said
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mb(self) -> float:
        return group_usage(self.pid)[0] if self.proc is not None else 0.0

    def cpu_s(self) -> float:
        return group_usage(self.pid)[1] if self.proc is not None else 0.0

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever the leader left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


class RssSampler:
    """Samples a server's resident memory in a thread while a point runs."""

    def __init__(self, read: Callable[[], float], every: float = 0.25) -> None:
        self.read = read
        self.every = every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, self.read()))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def max_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)
