"""Run an exported model through onnxruntime the way the server does.

``forward`` is shared by parity (Keras and onnxruntime behind the same interface), the skill
gates and the tests: one graph call for single-graph kinds, a greedy decode that starts from
``onehot(start_symbol)`` and feeds back ``onehot(argmax)`` for ``seq2seq``, and a step loop that
carries ``(h, c)`` for ``stateful_step``. Only numpy and onnxruntime: no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from seqserve.contract.manifest import read_manifest
from seqserve.v1 import seqserve_pb2 as pb

Runner = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def session_runner(path: str | os.PathLike[str]) -> Runner:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, feeds), strict=True))

    return run


def load(folder: str | os.PathLike[str]) -> tuple[pb.ModelInfo, dict[int, Runner]]:
    """A version folder -> its manifest and one onnxruntime runner per graph role."""
    info = read_manifest(folder)
    return info, {g.role: session_runner(Path(folder) / g.file) for g in info.graphs}


def _graph(info: pb.ModelInfo, role: int) -> pb.GraphFile:
    return next(g for g in info.graphs if g.role == role)


def onehot(symbols: np.ndarray, cardinality: int) -> np.ndarray:
    return np.eye(cardinality, dtype=np.float32)[np.asarray(symbols)]


def greedy_decode(info: pb.ModelInfo, runners: dict[int, Runner], source: np.ndarray) -> np.ndarray:
    """Encoder once, then ``decode.steps`` decoder steps fed back with ``onehot(argmax)``.

    ``source`` is the one-hot source ``[n, L, C]``; returns the step probabilities ``[n, T, C]``.
    """
    enc, dec = _graph(info, pb.GRAPH_ROLE_ENCODER), _graph(info, pb.GRAPH_ROLE_DECODER_STEP)
    cardinality = info.output.cardinality
    out = runners[pb.GRAPH_ROLE_ENCODER]({enc.inputs[0].name: source})
    h, c = out[enc.outputs[0].name], out[enc.outputs[1].name]
    symbol = np.full(len(source), info.decode.start_symbol)
    probs = []
    for _ in range(info.decode.steps):
        values = [onehot(symbol, cardinality), h, c]
        feeds = dict(zip([t.name for t in dec.inputs], values, strict=True))
        out = runners[pb.GRAPH_ROLE_DECODER_STEP](feeds)
        p, h, c = (out[t.name] for t in dec.outputs)
        probs.append(p)
        symbol = p.argmax(axis=-1)
    return np.stack(probs, axis=1)


def step_sequences(
    info: pb.ModelInfo, runners: dict[int, Runner], inputs: np.ndarray
) -> np.ndarray:
    """Feed one-hot symbols ``[n, T, C]`` step by step from a zero state; probabilities out."""
    step = _graph(info, pb.GRAPH_ROLE_STEP)
    size = info.decode.state_size
    h = np.zeros((len(inputs), size), np.float32)
    c = np.zeros_like(h)
    probs = []
    for t in range(inputs.shape[1]):
        feeds = dict(zip([s.name for s in step.inputs], [inputs[:, t], h, c], strict=True))
        out = runners[pb.GRAPH_ROLE_STEP](feeds)
        p, h, c = (out[s.name] for s in step.outputs)
        probs.append(p)
    return np.stack(probs, axis=1)


def forward(info: pb.ModelInfo, runners: dict[int, Runner], x: np.ndarray) -> np.ndarray:
    """The model's output for graph input ``x``, whatever its serving kind."""
    if info.kind == pb.SERVING_KIND_SEQ2SEQ:
        return greedy_decode(info, runners, x)
    if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
        return step_sequences(info, runners, x)
    graph = _graph(info, pb.GRAPH_ROLE_MODEL)
    return runners[pb.GRAPH_ROLE_MODEL]({graph.inputs[0].name: x})[graph.outputs[0].name]
