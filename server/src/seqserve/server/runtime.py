"""onnxruntime session factory: providers from the device setting, threads, optimisation."""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from seqserve.server.errors import StartupError
from seqserve.server.settings import Device, GraphOptimization, Settings

log = logging.getLogger(__name__)

_LEVELS = {
    GraphOptimization.DISABLE: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    GraphOptimization.BASIC: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    GraphOptimization.EXTENDED: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    GraphOptimization.ALL: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class DeviceUnavailable(StartupError):
    """The requested device cannot be used; raised once, at start."""


def choose_providers(device: Device, available: list[str] | None = None) -> list[str]:
    """Execution providers for the device setting; fails or warns when CUDA is missing."""
    have = ort.get_available_providers() if available is None else available
    if device is Device.CPU:
        return [CPU]
    if CUDA in have:
        return [CUDA, CPU]
    if device is Device.CUDA:
        raise DeviceUnavailable(
            f"--device cuda: onnxruntime has no {CUDA} (available: {', '.join(have)}); "
            "install onnxruntime-gpu with a matching CUDA, or use --device cpu"
        )
    log.warning("--device auto: %s unavailable, serving on CPU", CUDA)
    return [CPU]


class SessionFactory:
    """Creates onnxruntime sessions with the server's thread and optimisation settings."""

    def __init__(self, settings: Settings) -> None:
        self.providers = choose_providers(settings.device)
        self._settings = settings

    def options(self, settings: Settings | None = None) -> ort.SessionOptions:
        """Session options from `settings` (a model's own, `repository.serving`) or the
        server's."""
        settings = settings or self._settings
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = settings.intra_op_threads
        opts.inter_op_num_threads = settings.inter_op_threads
        opts.graph_optimization_level = _LEVELS[settings.graph_optimization]
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        if settings.intra_op_threads == 1:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def create(self, path: Path, settings: Settings | None = None) -> ort.InferenceSession:
        return ort.InferenceSession(str(path), self.options(settings), providers=self.providers)

    @property
    def on_cuda(self) -> bool:
        return self.providers[0] == CUDA
