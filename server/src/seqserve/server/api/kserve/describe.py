"""Model states -> ModelMetadata, ModelConfig and RepositoryIndex messages. Mapping only."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from seqserve.server import ids
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.engines.tensor import batchable
from seqserve.server.errors import InvalidInput
from seqserve.server.repository import LoadError, ModelState
from seqserve.server.repository.registry import VersionRow
from seqserve.server.repository.serving import model_settings
from seqserve.server.settings import Settings

PLATFORM = "onnxruntime_onnx"
BACKEND = "onnxruntime"
EXTENSIONS = (
    "binary_tensor_data",
    "parameters",
    "sequence",
    "model_configuration",
    "statistics",
)


def version_number(version: str) -> int:
    """A protocol version string ("" or "3") -> the core's version (0: newest)."""
    if not version:
        return 0
    if not (version.isascii() and version.isdigit()) or len(version) > ids.MAX_VERSION_DIGITS:
        raise InvalidInput(
            f"model version must be a whole number of at most {ids.MAX_VERSION_DIGITS} "
            f"digits 0-9; got {ids.shown(version)!r}"
        )
    return int(version)


def _tensor(spec: t.TensorSpec) -> kpb.ModelMetadataResponse.TensorMetadata:
    return kpb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=spec.shape
    )


def model_metadata(state: ModelState) -> kpb.ModelMetadataResponse:
    info = state.info
    return kpb.ModelMetadataResponse(
        name=info.name,
        versions=[str(v) for v in state.versions],
        platform=PLATFORM,
        inputs=[_tensor(spec) for spec in t.input_specs(info)],
        outputs=[_tensor(spec) for spec in t.output_specs(info)],
    )


def model_config(state: ModelState, settings: Settings) -> kpb.ModelConfig:
    """Triton's view of the model: batch dimension left out of dims when batched; batching
    settings as the model uses them (its manifest's `serving` over the flags)."""
    info = state.info
    with contextlib.suppress(LoadError):  # a version not ready for a bad `serving`: the flags
        settings = model_settings(settings, info)
    batched = batchable(info) if t.is_tensor(info) else not t.is_stateful(info)
    config = kpb.ModelConfig(
        name=info.name,
        platform=PLATFORM,
        backend=BACKEND,
        max_batch_size=settings.max_batch_items if batched else 0,
        version_policy=kpb.ModelVersionPolicy(
            specific=kpb.ModelVersionPolicy.Specific(versions=state.versions)
        ),
        # one response per request (not decoupled): per-symbol responses are an opt-in
        model_transaction_policy=kpb.ModelTransactionPolicy(decoupled=False),
    )
    for spec in t.input_specs(info):
        config.input.add(name=spec.name, data_type=_config_type(spec), dims=_dims(spec, batched))
    for spec in t.output_specs(info):
        config.output.add(name=spec.name, data_type=_config_type(spec), dims=_dims(spec, batched))
    if batched:
        config.dynamic_batching.max_queue_delay_microseconds = settings.max_batch_delay_us
        config.dynamic_batching.preferred_batch_size.append(settings.max_batch_size)
    elif t.is_stateful(info):
        idle_us = int(settings.session_idle_timeout * 1_000_000)
        config.sequence_batching.max_sequence_idle_microseconds = idle_us
    return config


def _config_type(spec: t.TensorSpec) -> int:
    """The model configuration's name of a datatype: TYPE_<datatype>, TYPE_STRING for BYTES."""
    name = "TYPE_STRING" if spec.datatype == t.BYTES else f"TYPE_{spec.datatype}"
    return int(kpb.DataType.Value(name))


def _dims(spec: t.TensorSpec, batched: bool) -> tuple[int, ...]:
    return spec.shape[1:] if batched else spec.shape


def repository_index(rows: Sequence[VersionRow], ready_only: bool) -> kpb.RepositoryIndexResponse:
    """One entry per version on disk or loaded, with its state and why it is not ready."""
    index = kpb.RepositoryIndexResponse()
    for row in rows:
        if row.state == "READY" or not ready_only:
            index.models.add(
                name=row.model, version=str(row.version), state=row.state, reason=row.reason
            )
    return index


def no_overrides(parameters: Mapping[str, object], allowed: Sequence[str]) -> None:
    """Refuse Triton's load-time overrides (`config`, `file:...`): seqserve loads from its
    repository only."""
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"parameters {', '.join(unknown)} are not supported: seqserve loads a model from "
            "its repository folder as it is"
            + (f" (accepted: {', '.join(allowed)})" if allowed else "")
        )
