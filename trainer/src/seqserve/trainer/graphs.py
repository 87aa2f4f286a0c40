"""The inference graphs of a trained model as ``tf.function``s, ready for tf2onnx.

Each function has an explicit input signature (batch dimension ``None``) with the tensor names
of docs/manifest.md and returns a dict keyed by the output names. Encoder and step graphs call
the trained layer objects themselves, so they share the trained weights.
"""

from __future__ import annotations

from collections.abc import Callable

from seqserve.trainer import runtime

runtime.configure()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqserve.trainer.catalog import Graph, Model  # noqa: E402
from seqserve.v1 import seqserve_pb2 as pb  # noqa: E402


def signature(graph: Graph) -> list[tf.TensorSpec]:
    return [
        tf.TensorSpec([None if d < 0 else d for d in t.shape], tf.float32, name=t.name)
        for t in graph.inputs
    ]


def _step(lstm: keras.layers.Layer, dense: keras.layers.Layer) -> Callable[..., dict]:
    """One LSTM step from ``(h, c)`` plus the output layer: ``(x, h, c) -> (probs, h, c)``."""

    def step(x: tf.Tensor, h_in: tf.Tensor, c_in: tf.Tensor) -> dict[str, tf.Tensor]:
        seq, h, c = lstm(tf.expand_dims(x, 1), initial_state=[h_in, c_in])
        return {"probs": dense(seq[:, 0, :]), "h_out": h, "c_out": c}

    return step


def function(model: Model, net: keras.Model, graph: Graph) -> tf.types.experimental.Function:
    """The ``tf.function`` for one graph file of ``model``."""
    if graph.role == pb.GRAPH_ROLE_MODEL:

        def body(x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": net(x, training=False)}

    elif graph.role == pb.GRAPH_ROLE_ENCODER:
        encoder = net.get_layer("encoder_lstm")

        def body(source: tf.Tensor) -> dict[str, tf.Tensor]:
            _, h, c = encoder(source)
            return {"h_out": h, "c_out": c}

    elif graph.role == pb.GRAPH_ROLE_DECODER_STEP:
        body = _step(net.get_layer("decoder_lstm"), net.get_layer("decoder_dense"))
    elif graph.role == pb.GRAPH_ROLE_STEP:
        body = _step(net.get_layer("lstm"), net.get_layer("dense"))
    else:
        raise ValueError(f"{model.name}: no graph for role {graph.role}")
    return tf.function(body, input_signature=signature(graph))


def keras_runner(fn: tf.types.experimental.Function, graph: Graph) -> Callable[[dict], dict]:
    """Call a graph function like an onnxruntime session: numpy feeds in, numpy outputs out."""
    names = [t.name for t in graph.inputs]

    def run(feeds: dict) -> dict:
        return {k: v.numpy() for k, v in fn(*(feeds[n] for n in names)).items()}

    return run
