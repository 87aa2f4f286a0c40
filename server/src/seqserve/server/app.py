"""The server's lifecycle: bind, load, serve, drain. Used by `__main__` and by embedders."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from seqserve.server import __version__, heap, metrics, metrics_endpoint
from seqserve.server.api.http import HttpServer
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.api.server import create_server, set_health
from seqserve.server.calls import active_calls
from seqserve.server.core import InferenceCore
from seqserve.server.errors import StartupError
from seqserve.server.repository.reload import Reloader
from seqserve.server.settings import Settings

log = logging.getLogger("seqserve.server")

HEAVY_MODULES = ("tensorflow", "keras", "torch", "jax", "tf2onnx")


class App:
    def __init__(self, settings: Settings) -> None:
        if not settings.models.is_dir():
            what = "does not exist" if not settings.models.exists() else "is not a folder"
            raise StartupError(
                f"model repository {settings.models} {what}; --models names a folder of "
                "<name>/<version>/ folders"
            )
        self.settings = settings
        self.core = InferenceCore(settings)
        inference = Inference(self.core)  # KServe sequences and statistics of both ports
        self.server, self.port, self.health = create_server(settings, self.core, inference)
        http_port = settings.http_bind_port()
        self.http: HttpServer | None = None
        if http_port is not None:
            self.http = HttpServer(settings, self.core, inference, http_port)
        self._stopping = asyncio.Event()
        self.reloader = Reloader(self.core.repository, settings.poll, self._update_health)
        self.metrics_port: int | None = None

    async def start(self) -> None:
        """Listen (health NOT_SERVING), load and warm every model, then report SERVING."""
        started = time.perf_counter()
        await set_health(self.health, False)
        await self.server.start()
        log.info("listening on %s:%d", self.settings.host, self.port)
        if self.settings.port_file is not None:
            _write_atomic(self.settings.port_file, f"{self.port}\n")
        if self.http is not None:
            await self.http.start()
            log.info("HTTP listening on %s:%d", self.settings.host, self.http.port)
            if self.settings.http_port_file is not None:
                _write_atomic(self.settings.http_port_file, f"{self.http.port}\n")
        self._start_metrics()
        await self.core.load()
        states = self.core.states()
        if not states and not self.settings.allow_empty:
            raise StartupError(
                f"no model versions under {self.settings.models}; add <name>/<version>/ "
                "folders, or pass --allow-empty to start without (NOT_SERVING until one loads)"
            )
        heap.freeze()  # models loaded later by a reload are collected as usual
        await self.reloader.start()
        await self._update_health()
        ready = sum(s.ready for s in states)
        log.info(
            "serving %d/%d models in %.0f ms%s",
            ready,
            len(states),
            (time.perf_counter() - started) * 1e3,
            "" if ready == len(states) else " (see errors above)",
        )
        if self.settings.report_modules:
            heavy = sorted(m for m in HEAVY_MODULES if m in sys.modules)
            log.info("heavy modules loaded: %s", ", ".join(heavy) or "none")

    async def _update_health(self) -> None:
        """SERVING while at least one model version is ready to answer; NOT_SERVING while
        none is (an empty repository, every version refused) or once draining."""
        serving = not self.core.draining and any(s.ready for s in self.core.states())
        await set_health(self.health, serving)

    def _start_metrics(self) -> None:
        """Readiness and build info for /metrics; the endpoint itself when a port is set."""
        metrics.watch_models(self._versions)
        metrics.set_build_info(__version__, device=self.settings.device.value)
        if self.settings.metrics_port:
            self.metrics_port = metrics_endpoint.serve(
                self.settings.metrics_host, self.settings.metrics_port
            )

    def _versions(self) -> list[metrics.VersionState]:
        return [
            metrics.VersionState(s.info.name, s.info.version, s.ready) for s in self.core.states()
        ]

    def request_reload(self) -> None:
        """SIGHUP: scan the repository for new, changed or vanished versions now."""
        self.reloader.trigger()

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        """A rolling restart costs callers nothing: NOT_SERVING at once (load balancers
        move on); new calls are refused with UNAVAILABLE before any work (clients retry
        them on another replica); the calls in flight finish, for up to the grace period;
        then the server closes its connections (GOAWAY) and cancels what is left."""
        grace = self.settings.grace
        started = time.monotonic()
        log.info("shutting down (grace %.1f s)", grace)
        await self.health.enter_graceful_shutdown()
        self.core.drain()
        if not await active_calls.wait_idle(grace):  # gRPC and HTTP calls alike
            log.warning("grace period over: cancelling %d calls in flight", active_calls.count)
        remaining = max(0.0, grace - (time.monotonic() - started))
        stops = [self.server.stop(remaining)]
        if self.http is not None:
            stops.append(self.http.stop())
        await asyncio.gather(*stops)
        await self.reloader.stop()
        await self.core.close()
        log.info("stopped")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
