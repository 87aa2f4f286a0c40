"""Load one model version: manifest (read, or derived from a lone model.onnx), file hashes,
graph signatures, engine with the model's serving settings, warm-up."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from seqserve.contract import codecs
from seqserve.contract.manifest import MANIFEST, read_manifest
from seqserve.server import metrics
from seqserve.server.engines import Engine, build_engine
from seqserve.server.execution.capacity import Capacity
from seqserve.server.repository.checks import (
    LoadError,
    check_manifest,
    check_no_external_data,
    check_signature,
    verify_file,
)
from seqserve.server.repository.derive import GRAPH, derive_manifest
from seqserve.server.repository.serving import model_settings
from seqserve.server.repository.warmup import warmup_inputs
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import Settings
from seqserve.server.totals import Totals
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ModelVersion:
    """One version folder: ready with an engine, or not ready with the reason."""

    name: str
    version: int
    info: pb.ModelInfo
    engine: Engine | None = None
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @functools.cached_property
    def codec(self) -> codecs.Codec:
        """The request codec of this version's manifest, made on first use."""
        return codecs.Codec(self.info)


def load_version(
    folder: Path,
    name: str,
    version: int,
    factory: SessionFactory,
    settings: Settings,
    totals: Totals,
) -> ModelVersion:
    """Everything a version must pass before it serves; a failure is returned, not raised.
    Its engine's calls count in `totals`."""
    started = time.perf_counter()
    info = pb.ModelInfo(name=name, version=version)
    try:
        info = _manifest(folder, name, version)
        engine = _build(folder, name, version, info, factory, settings, totals)
    except LoadError as exc:
        log.error("model %s version %d not ready: %s", name, version, exc.detailed)
        return ModelVersion(name, version, info, reason=str(exc))
    except Exception:  # a file no check foresaw: this version is not ready, the rest serve
        log.exception(
            "model %s version %d not ready: unexpected error while loading", name, version
        )
        reason = "unexpected error while loading (details in the server log)"
        return ModelVersion(name, version, info, reason=reason)
    log.info(
        "model %s version %d ready (%s, %.0f ms)",
        name,
        version,
        pb.ServingKind.Name(info.kind),
        (time.perf_counter() - started) * 1e3,
    )
    metrics.model_loaded(name, version, time.perf_counter() - started)
    return ModelVersion(name, version, info, engine)


def _manifest(folder: Path, name: str, version: int) -> pb.ModelInfo:
    """model.json; or, with only model.onnx in the folder, the manifest derived from it."""
    if not (folder / MANIFEST).exists() and (folder / GRAPH).is_file():
        check_no_external_data(folder / GRAPH)
        info = derive_manifest(folder, name, version)
        log.warning(
            "model %s version %d: no %s; serving %s as a tensor model, SHA-256 %s computed "
            "now, not pinned (seqserve-server manifest %s writes the manifest to pin it)",
            name,
            version,
            MANIFEST,
            GRAPH,
            info.graphs[0].sha256,
            folder,
        )
        return info
    try:
        info = read_manifest(folder)
    except Exception as exc:  # unreadable or malformed JSON, unknown fields
        raise LoadError(f"{MANIFEST} unreadable", _short(exc)) from exc
    info.derived = False  # only the server derives a manifest
    return info


def _build(
    folder: Path,
    name: str,
    version: int,
    info: pb.ModelInfo,
    factory: SessionFactory,
    settings: Settings,
    totals: Totals,
) -> Engine:
    graphs = check_manifest(info, name, version)
    settings = model_settings(settings, info)
    sessions = {}
    for role, graph in graphs.items():
        path = verify_file(folder, graph)
        check_no_external_data(path, graph.file)
        try:
            session = factory.create(path, settings)
        except Exception as exc:  # onnxruntime cannot parse or place the graph
            raise LoadError(f"{graph.file}: onnxruntime cannot load it", _short(exc)) from exc
        check_signature(graph, session, tensor=info.kind == pb.SERVING_KIND_TENSOR)
        sessions[role] = session
    warmup = warmup_inputs(info, folder) if info.kind == pb.SERVING_KIND_TENSOR else None
    engine = build_engine(info, sessions, Capacity.of(settings), totals.of(name), warmup)
    try:
        for _ in range(settings.warmup_runs):
            engine.warmup()
    except Exception as exc:
        raise LoadError("warm-up inference failed", _short(exc)) from exc
    return engine


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
