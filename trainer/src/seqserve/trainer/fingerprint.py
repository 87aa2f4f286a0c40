"""The fingerprint of a trained model: a hash of its training code, data spec and seed.

It is computed from the source text of the trainer's modules (parsed, not imported), so
deciding that a model is up to date never needs TensorFlow.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict
from functools import cache
from pathlib import Path

from seqserve.trainer.catalog import Model

_HERE = Path(__file__).parent
FIT_FUNCTIONS = ("fit",)  # training.fit: shared by every model


@cache
def _module(name: str) -> tuple[str, dict[str, ast.AST], list[ast.AST]]:
    source = (_HERE / f"{name}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    constants = [n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)]
    return source, functions, constants


def _closure(module: str, roots: tuple[str, ...]) -> str:
    """Source of ``roots`` and of every function of the same module they call, in order."""
    source, functions, constants = _module(module)
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop(0)
        if name in seen or name not in functions:
            continue
        seen.append(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Name) and node.id in functions:
                todo.append(node.id)
    parts = [ast.get_source_segment(source, functions[n]) or "" for n in seen]
    parts += [ast.get_source_segment(source, c) or "" for c in constants]
    return "\n".join(parts)


def fingerprint(model: Model, seed: int) -> str:
    """sha256 over the model's builder, data generator, the fit loop, its plan and the seed."""
    payload = {
        "name": model.name,
        "builder": _closure("builders", (f"build_{model.name}",)),
        "data": _closure("datasets", (model.data,)),
        "fit": _closure("training", FIT_FUNCTIONS),
        "plan": asdict(model.plan),
        "seed": seed,
    }
    blob = json.dumps(payload, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]
