"""Export one trained model: ONNX graphs, parity, skill gate and manifest, published atomically."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from seqserve.trainer import runtime

runtime.configure()

import keras  # noqa: E402
import onnx  # noqa: E402
import tf2onnx  # noqa: E402

from seqserve.contract.manifest import write_manifest  # noqa: E402
from seqserve.trainer import catalog, gates, graphs, greedy, inference, parity, repository  # noqa: E402
from seqserve.trainer.cache import Record  # noqa: E402
from seqserve.trainer.catalog import Graph, Model  # noqa: E402
from seqserve.v1 import seqserve_pb2 as pb  # noqa: E402

OPSET = 17


def convert(model: Model, net: keras.Model, graph: Graph, folder: Path) -> pb.GraphFile:
    """Convert one graph with tf2onnx and write it; outputs ordered as the manifest lists them."""
    fn = graphs.function(model, net, graph)
    proto, _ = tf2onnx.convert.from_function(
        fn, input_signature=graphs.signature(graph), opset=OPSET
    )
    by_name = {o.name: o for o in proto.graph.output}
    ordered = [by_name[t.name] for t in graph.outputs]
    del proto.graph.output[:]
    proto.graph.output.extend(ordered)
    path = folder / graph.file
    onnx.save(proto, path)
    return repository.graph_file(
        path,
        graph.role,
        [pb.TensorSpec(name=t.name, dtype="float32", shape=t.shape) for t in graph.inputs],
        [pb.TensorSpec(name=t.name, dtype="float32", shape=t.shape) for t in graph.outputs],
    )


def manifest(model: Model, version: int, record: Record) -> pb.ModelInfo:
    info = pb.ModelInfo(
        name=model.name,
        version=version,
        task=model.task,
        kind=model.kind,
        input=model.input,
        output=model.output,
        training=pb.Training(
            seed=record.seed,
            fingerprint=record.fingerprint,
            parameters=record.parameters,
            seconds=record.seconds,
            epochs=record.epochs,
            examples=record.examples,
            batch_size=record.batch_size,
            framework=runtime.framework(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        ),
    )
    if model.decode.ByteSize():
        info.decode.CopyFrom(model.decode)
    return info


def export(model: Model, net: keras.Model, record: Record, models: Path) -> pb.ModelInfo:
    """Write the next version of ``model`` under ``models``; raise on parity or gate failure.

    Everything is assembled in a temporary folder; the version folder appears only once the
    graphs, parity, skill and manifest are all in place.
    """
    start = time.perf_counter()
    repository.clean_stale(models, model.name)
    known = repository.versions(models, model.name)
    version = (known[-1] if known else 0) + 1
    tmp = repository.staging(models, model.name, version)
    try:
        info = manifest(model, version, record)
        info.graphs.extend(convert(model, net, g, tmp) for g in model.graphs)
        composed = pb.GRAPH_ROLE_GREEDY in catalog.exported_roles(model)
        if composed:
            info.graphs.append(greedy.compose(info, tmp))
        runners = {
            g.role: graphs.keras_runner(graphs.function(model, net, g), g) for g in model.graphs
        }
        onnx_runners = {g.role: inference.session_runner(tmp / g.file) for g in info.graphs}
        seed = record.seed
        info.parity.CopyFrom(
            parity.measure(model, info, runners, onnx_runners, seed + parity.PARITY_SEED_OFFSET)
        )
        gate = gates.evaluate(model, info, onnx_runners, seed + gates.GATE_SEED_OFFSET)
        info.skill.CopyFrom(gate.skill)
        gates.check(model, info.skill)
        if composed:  # the same sources and step-loop outputs as the gate
            greedy.check(info, onnx_runners, gate.sources, gate.outputs)
        write_manifest(tmp, info)
        folder = repository.publish(tmp, version)
    except BaseException:
        repository.discard(tmp)
        raise
    print(
        f"  {model.name}: exported version {version} to {folder} "
        f"({info.skill.metric} {info.skill.value:.4f}, bar {info.skill.bar}; "
        f"parity {info.parity.max_abs_diff:.2g}; {time.perf_counter() - start:.1f}s)"
    )
    return info
