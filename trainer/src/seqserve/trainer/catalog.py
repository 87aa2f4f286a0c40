"""What each of the eight models is: serving kind, manifest specs, training plan and skill bar.

Plain data, no TensorFlow, so the CLI can decide that nothing needs doing without importing it.
The builder of model ``name`` is ``builders.build_<name>``; its training data is
``datasets.<Model.data>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqserve.trainer import datasets as ds
from seqserve.v1 import seqserve_pb2 as pb

FLOAT = "float32"


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # -1: the dynamic batch dimension


@dataclass(frozen=True)
class Graph:
    role: int  # pb.GraphRole
    file: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]


@dataclass(frozen=True)
class Plan:
    """How a model is fitted, on fresh data every epoch.

    ``units`` is what the data generator is asked for per epoch: examples, or 25-long
    sequences (21 windows each) for the echo models, or repeats of the two sequences for recall.
    """

    units: int
    epochs: int
    batch_size: int
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class Bar:
    metric: str  # "accuracy", "exact_match", "rmse"
    value: float
    higher_is_better: bool = True

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.higher_is_better else figure <= self.value


@dataclass(frozen=True)
class Model:
    name: str
    task: str
    kind: int  # pb.ServingKind
    input: pb.SequenceSpec
    output: pb.SequenceSpec
    graphs: tuple[Graph, ...]
    plan: Plan
    bar: Bar
    data: str  # name of the generator in datasets
    decode: pb.DecodeSpec = field(default_factory=pb.DecodeSpec)


def _onehot_ints(length: int, low: int, cardinality: int) -> pb.SequenceSpec:
    return pb.SequenceSpec(
        kind=pb.DATA_KIND_INTS,
        length=length,
        min_value=low,
        max_value=cardinality - 1,
        cardinality=cardinality,
        encoding=pb.ENCODING_ONEHOT,
    )


def _text(length: int, fmt: pb.TextFormat | None = None) -> pb.SequenceSpec:
    return pb.SequenceSpec(
        kind=pb.DATA_KIND_TEXT,
        length=length,
        min_value=0,
        max_value=len(ds.ADD_ALPHABET) - 1,
        cardinality=len(ds.ADD_ALPHABET),
        encoding=pb.ENCODING_ONEHOT,
        alphabet=ds.ADD_ALPHABET,
        pad=ds.ADD_PAD,
        format=fmt,
    )


def _model_graph(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[Graph, ...]:
    return (Graph(pb.GRAPH_ROLE_MODEL, "model.onnx", (Tensor("x", x),), (Tensor("y", y),)),)


def _state_outputs(cardinality: int, state: int) -> tuple[Tensor, ...]:
    return (
        Tensor("probs", (-1, cardinality)),
        Tensor("h_out", (-1, state)),
        Tensor("c_out", (-1, state)),
    )


def _step_graph(role: int, file: str, first: str, cardinality: int, state: int) -> Graph:
    inputs = (
        Tensor(first, (-1, cardinality)),
        Tensor("h_in", (-1, state)),
        Tensor("c_in", (-1, state)),
    )
    return Graph(role, file, inputs, _state_outputs(cardinality, state))


_SUM_IN = pb.SequenceSpec(
    kind=pb.DATA_KIND_INTS,
    length=ds.SUM_TERMS,
    min_value=1,
    max_value=ds.SUM_LARGEST,
    encoding=pb.ENCODING_SCALED,
    scale=ds.SUM_SCALE,
)
_SUM_OUT = pb.SequenceSpec(
    kind=pb.DATA_KIND_VALUE, length=1, encoding=pb.ENCODING_SCALED, scale=ds.SUM_SCALE
)
_ADD_FORMAT = pb.TextFormat(
    terms=ds.ADD_TERMS,
    separator=ds.ADD_SEPARATOR,
    term_min=1,
    term_max=ds.ADD_LARGEST,
    example="3+10",
)
_EC, _RC, _VC = ds.ECHO_CARDINALITY, ds.REVERSE_CARDINALITY, ds.VANILLA_CARDINALITY
_AC = len(ds.ADD_ALPHABET)
_REVERSE_STATE, _RECALL_STATE = 128, 20

MODELS: tuple[Model, ...] = (
    Model(
        name="echo_vanilla",
        task="Echo the value at index 2 of a sequence of 5 ints in 0-9.",
        kind=pb.SERVING_KIND_CLASSIFY,
        input=_onehot_ints(ds.VANILLA_LENGTH, 0, _VC),
        output=_onehot_ints(1, 0, _VC),
        graphs=_model_graph((-1, ds.VANILLA_LENGTH, _VC), (-1, _VC)),
        plan=Plan(units=20_000, epochs=6, batch_size=32),
        bar=Bar("accuracy", 0.99),
        data="echo_vanilla",
    ),
    Model(
        name="echo_whole",
        task="Echo a window of 5 ints in 0-99, position by position.",
        kind=pb.SERVING_KIND_TAG,
        input=_onehot_ints(ds.ECHO_WINDOW, 0, _EC),
        output=_onehot_ints(ds.ECHO_WINDOW, 0, _EC),
        graphs=_model_graph((-1, ds.ECHO_WINDOW, _EC), (-1, ds.ECHO_WINDOW, _EC)),
        plan=Plan(units=1_000, epochs=3, batch_size=32, learning_rate=3e-3),
        bar=Bar("exact_match", 0.99),
        data="echo_whole",
    ),
    Model(
        name="echo_partial",
        task="Echo the first 2 of a window of 5 ints in 0-99 (encoder-decoder).",
        kind=pb.SERVING_KIND_FIXED_SEQ2SEQ,
        input=_onehot_ints(ds.ECHO_WINDOW, 0, _EC),
        output=_onehot_ints(ds.ECHO_PARTIAL_OUT, 0, _EC),
        graphs=_model_graph((-1, ds.ECHO_WINDOW, _EC), (-1, ds.ECHO_PARTIAL_OUT, _EC)),
        plan=Plan(units=2_000, epochs=4, batch_size=64),
        bar=Bar("exact_match", 0.95),
        data="echo_partial",
    ),
    Model(
        name="sum_regression",
        task="Sum 2 ints in 1-100 with an LSTM regressor.",
        kind=pb.SERVING_KIND_REGRESS,
        input=_SUM_IN,
        output=_SUM_OUT,
        graphs=_model_graph((-1, ds.SUM_TERMS, 1), (-1, 1)),
        plan=Plan(units=20_000, epochs=10, batch_size=32, learning_rate=3e-3),
        bar=Bar("rmse", 1.0, higher_is_better=False),
        data="sum_regression",
    ),
    Model(
        name="sum_mlp",
        task="Sum 2 ints in 1-100 with a linear MLP (no LSTM).",
        kind=pb.SERVING_KIND_REGRESS,
        input=_SUM_IN,
        output=_SUM_OUT,
        graphs=_model_graph((-1, ds.SUM_TERMS), (-1, 1)),
        plan=Plan(units=10_000, epochs=5, batch_size=16),
        bar=Bar("rmse", 0.5, higher_is_better=False),
        data="sum_mlp",
    ),
    Model(
        name="addition",
        task='Add two ints in 1-10 given as text like "3+10"; answer as text.',
        kind=pb.SERVING_KIND_FIXED_SEQ2SEQ,
        input=_text(ds.ADD_IN_LENGTH, _ADD_FORMAT),
        output=_text(ds.ADD_OUT_LENGTH),
        graphs=_model_graph((-1, ds.ADD_IN_LENGTH, _AC), (-1, ds.ADD_OUT_LENGTH, _AC)),
        plan=Plan(units=20_000, epochs=6, batch_size=32),
        bar=Bar("exact_match", 0.97),
        data="addition",
    ),
    Model(
        name="reverse",
        task="Reverse the first 3 of 6 ints in 1-50 (encoder + greedy step decoder).",
        kind=pb.SERVING_KIND_SEQ2SEQ,
        input=_onehot_ints(ds.REVERSE_SOURCE, 1, _RC),
        output=_onehot_ints(ds.REVERSE_TARGET, 0, _RC),
        decode=pb.DecodeSpec(
            start_symbol=ds.REVERSE_START, steps=ds.REVERSE_TARGET, state_size=_REVERSE_STATE
        ),
        graphs=(
            Graph(
                pb.GRAPH_ROLE_ENCODER,
                "encoder.onnx",
                (Tensor("source", (-1, ds.REVERSE_SOURCE, _RC)),),
                _state_outputs(_RC, _REVERSE_STATE)[1:],
            ),
            _step_graph(
                pb.GRAPH_ROLE_DECODER_STEP, "decoder_step.onnx", "symbol", _RC, _REVERSE_STATE
            ),
        ),
        plan=Plan(units=25_000, epochs=8, batch_size=32),
        bar=Bar("exact_match", 0.99),
        data="reverse",
    ),
    Model(
        name="recall",
        task="Predict the next symbol of [3,0,1,2,3] or [4,0,1,2,4], one step per call.",
        kind=pb.SERVING_KIND_STATEFUL_STEP,
        input=_onehot_ints(1, 0, ds.RECALL_CARDINALITY),
        output=_onehot_ints(1, 0, ds.RECALL_CARDINALITY),
        decode=pb.DecodeSpec(state_size=_RECALL_STATE),
        graphs=(
            _step_graph(pb.GRAPH_ROLE_STEP, "step.onnx", "x", ds.RECALL_CARDINALITY, _RECALL_STATE),
        ),
        plan=Plan(units=256, epochs=3, batch_size=16, learning_rate=1e-2),
        bar=Bar("accuracy", 1.0),
        data="recall",
    ),
)

BY_NAME: dict[str, Model] = {m.name: m for m in MODELS}


def exported_roles(model: Model) -> set[int]:
    """The graph roles an export writes: the model's graphs, and for seq2seq the whole greedy
    decode in one graph, composed from them (``seqserve.trainer.greedy``)."""
    roles = {g.role for g in model.graphs}
    if model.kind == pb.SERVING_KIND_SEQ2SEQ:
        roles.add(pb.GRAPH_ROLE_GREEDY)
    return roles


def select(only: str | None) -> list[Model]:
    """Models named in ``"a,b"`` (all when empty); unknown names raise with the valid ones."""
    if not only:
        return list(MODELS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown model {', '.join(unknown)}; valid names: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]
