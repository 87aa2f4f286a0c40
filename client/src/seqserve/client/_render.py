"""How the CLI shows results to a person (plain text) or a program (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from seqserve.client._results import Model, ModelVersion, Prediction, Step, Symbol
from seqserve.v1 import seqserve_pb2 as pb


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def prediction(result: Prediction) -> str:
    """`13` (text), `3 2 1` (ints), `42 (41.87)` (regression: rounded, then the value)."""
    if result.text is not None:
        return result.text
    if result.ints is not None:
        return " ".join(map(str, result.ints))
    return f"{result.rounded} ({result.value:.2f})"


def symbol(event: Symbol, first: bool) -> str:
    """One streamed symbol: text symbols run together, integers are space-separated."""
    if event.text:
        return event.text
    return ("" if first else " ") + str(event.symbol)


def step(result: Step) -> str:
    return str(result.symbol)


def step_json(given: int, result: Step) -> str:
    return to_json({"input": given, **result.to_dict()})


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def models(found: Sequence[Model]) -> str:
    rows = [["NAME", "KIND", "INPUT", "OUTPUT", "VERSION", "READY"]]
    for model in found:
        ready = "yes" if model.ready else f"no: {model.reason}" if model.reason else "no"
        rows.append([model.name, model.kind, model.input, model.output, str(model.version), ready])
    return table(rows)


def versions(found: Sequence[ModelVersion]) -> str:
    rows = [["NAME", "VERSION", "STATE", "REASON"]]
    rows += [[v.model, str(v.version), v.state, v.reason] for v in found]
    return table(rows)


def info(model: Model) -> str:
    """`seqserve info NAME`: the manifest in a few readable lines."""
    m = model.info
    versions = ", ".join(map(str, model.versions)) or "none"
    lines = [
        ("name", model.name),
        ("version", f"{model.version} (ready versions: {versions})"),
        ("kind", model.kind),
        ("task", model.task),
        ("ready", "yes" if model.ready else f"no: {model.reason}"),
        ("input", model.input),
        ("output", model.output),
    ]
    if m.HasField("decode") and (m.decode.steps or m.decode.state_size):
        d = m.decode
        lines.append(
            ("decode", f"start symbol {d.start_symbol}, {d.steps} steps, state {d.state_size}")
        )
    if m.HasField("skill"):
        s = m.skill
        better = ">=" if s.higher_is_better else "<="
        lines.append(
            ("skill", f"{s.metric} {s.value:.4g} (bar {better} {s.bar:g}, {s.samples} samples)")
        )
    if m.HasField("parity"):
        p = m.parity
        lines.append(
            ("parity", f"max |keras - onnx| {p.max_abs_diff:.2e} (tolerance {p.tolerance:g})")
        )
    if m.HasField("training"):
        t = m.training
        lines.append(
            (
                "training",
                f"{t.parameters} parameters, {t.epochs} epochs, {t.seconds:.1f} s, seed {t.seed}",
            )
        )
        if t.framework or t.created_at:
            lines.append(("built", ", ".join(filter(None, [t.framework, t.created_at]))))
    lines.extend(("graph", _graph(g)) for g in m.graphs)
    width = max(len(key) for key, _ in lines) + 1
    return "\n".join(f"{key + ':':<{width}} {value}" for key, value in lines)


def _graph(graph: pb.GraphFile) -> str:
    role = pb.GraphRole.Name(graph.role).removeprefix("GRAPH_ROLE_").lower()
    return f"{graph.file} ({role}, {graph.size_bytes} bytes, sha256 {graph.sha256[:12]})"
