"""Typed, immutable results: what `Client` and `AsyncClient` return instead of protobuf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf import json_format

from seqserve.contract import codecs
from seqserve.v1 import seqserve_pb2 as pb

__all__ = ["Health", "Model", "Prediction", "Snapshot", "Step", "Symbol", "kind_name"]


def kind_name(kind: int) -> str:
    """`SERVING_KIND_FIXED_SEQ2SEQ` -> `fixed_seq2seq`."""
    name: str = pb.ServingKind.Name(kind)
    return name.removeprefix("SERVING_KIND_").lower()


@dataclass(frozen=True)
class Prediction:
    """One model answer. Exactly one of `text`, `ints`, `value` is set.

    - `text`: text models (padding stripped), e.g. `"13"`;
    - `ints`: classify (one int), tag, fixed_seq2seq and seq2seq models;
    - `value` and `rounded`: regression models (in original units);
    - `confidence`: per output position, the probability of the chosen symbol;
    - `probabilities`: classify models, the distribution over the classes;
    - `version`: the model version that answered.
    """

    model: str
    version: int
    text: str | None = None
    ints: tuple[int, ...] | None = None
    value: float | None = None
    rounded: int | None = None
    confidence: tuple[float, ...] = ()
    probabilities: tuple[float, ...] = ()

    @property
    def output(self) -> str | tuple[int, ...] | float:
        """Whichever of `text`, `ints` or `value` the model produces."""
        if self.text is not None:
            return self.text
        if self.ints is not None:
            return self.ints
        return self.value if self.value is not None else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the unset fields."""
        out = asdict(self)
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in out.items()
            if v != () and v is not None
        }

    @classmethod
    def from_message(cls, model: str, result: pb.Result) -> Prediction:
        which = result.WhichOneof("output")
        return cls(
            model=model,
            version=result.version,
            text=result.text if which == "text" else None,
            ints=tuple(result.ints.values) if which == "ints" else None,
            value=result.value if which == "value" else None,
            rounded=result.rounded if which == "value" else None,
            confidence=tuple(result.confidence),
            probabilities=tuple(result.probabilities),
        )


@dataclass(frozen=True)
class Symbol:
    """One decoded symbol of a streamed prediction, as soon as the server produced it.

    `item` is the index of the input in the call, `position` the index in the output;
    `text` is set for text models.
    """

    item: int
    position: int
    symbol: int
    text: str
    confidence: float

    @classmethod
    def from_message(cls, message: pb.DecodedSymbol) -> Symbol:
        return cls(message.item, message.position, message.symbol, message.text, message.confidence)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """The answer to one session step: the predicted next `symbol` and its distribution."""

    symbol: int
    probabilities: tuple[float, ...]
    steps: int

    @classmethod
    def from_message(cls, message: pb.StepResult) -> Step:
        return cls(message.symbol, tuple(message.probabilities), message.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "probabilities": list(self.probabilities),
            "steps": self.steps,
        }


@dataclass(frozen=True)
class Snapshot:
    """A session's recurrent state; open a session with it to resume (on any server).

    `to_bytes()`/`from_bytes()` and `to_json()`/`from_json()` carry it between processes.
    """

    model: str
    version: int
    h: tuple[float, ...]
    c: tuple[float, ...]
    steps: int

    def to_message(self) -> pb.SessionState:
        return pb.SessionState(
            model=self.model, version=self.version, h=self.h, c=self.c, steps=self.steps
        )

    @classmethod
    def from_message(cls, message: pb.SessionState) -> Snapshot:
        return cls(
            message.model, message.version, tuple(message.h), tuple(message.c), message.steps
        )

    def to_bytes(self) -> bytes:
        data: bytes = self.to_message().SerializeToString()
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> Snapshot:
        message = pb.SessionState()
        message.ParseFromString(data)
        return cls.from_message(message)

    def to_json(self) -> str:
        text: str = json_format.MessageToJson(self.to_message(), indent=None)
        return text

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        return cls.from_message(json_format.Parse(text, pb.SessionState()))


@dataclass(frozen=True)
class Model:
    """A served model: its manifest (`info`, the `ModelInfo` message) and its state."""

    name: str
    version: int
    kind: str
    task: str
    ready: bool
    reason: str
    versions: tuple[int, ...]
    info: pb.ModelInfo = field(repr=False, compare=False)

    @property
    def input(self) -> str:
        """What the model accepts, in words (`1-10 "+" 1-10, e.g. "3+10"`)."""
        return codecs.describe_input(self.info)

    @property
    def output(self) -> str:
        """What the model answers, in words (`text, 2 symbols`)."""
        return codecs.describe_output(self.info)

    @classmethod
    def from_message(cls, status: pb.ModelStatus) -> Model:
        info = status.info
        return cls(
            name=info.name,
            version=info.version,
            kind=kind_name(info.kind),
            task=info.task,
            ready=status.ready,
            reason=status.reason,
            versions=tuple(status.versions),
            info=info,
        )

    def to_dict(self) -> dict[str, Any]:
        manifest: Mapping[str, Any] = json_format.MessageToDict(
            self.info, preserving_proto_field_name=True
        )
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "task": self.task,
            "ready": self.ready,
            "reason": self.reason,
            "versions": list(self.versions),
            "input": self.input,
            "output": self.output,
            "manifest": dict(manifest),
        }


@dataclass(frozen=True)
class Health:
    """The standard gRPC health status of a server (or of one service on it)."""

    status: str  # SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN

    @property
    def serving(self) -> bool:
        return self.status == "SERVING"
