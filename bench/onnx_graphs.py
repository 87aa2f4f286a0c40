"""A model's exported ONNX graphs run with onnxruntime, with nothing but numpy around them.

Shared by B0 (in-process tight loop), B3 (the MLServer runtime) and B4 (the PyTriton infer
function), so the three run exactly the same graphs and the same greedy decode loop. It
reads `model.json` with `json` (not the seqserve protobuf classes) because the peers' own
virtualenvs have no seqserve installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort


def model_folder(models: str | Path, name: str) -> Path:
    """The newest version folder of `name` in a model repository."""
    root = Path(models) / name
    versions = [p for p in root.iterdir() if p.name.isdigit() and (p / "model.json").is_file()]
    if not versions:
        raise FileNotFoundError(f"no exported version of {name!r} under {root}")
    return max(versions, key=lambda p: int(p.name))


def _session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class Graphs:
    """The graphs of one exported model, keyed by role, with the manifest's shapes."""

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        folder = Path(folder)
        info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        self.name: str = info["name"]
        self.kind: str = info["kind"]
        self.in_len = int(info["input"].get("length", 1))
        self.in_card = int(info["input"].get("cardinality", 0))
        self.out_len = int(info["output"].get("length", 1))
        decode = info.get("decode", {})
        self.start = int(decode.get("start_symbol", 0))
        self.steps = int(decode.get("steps", 0))
        self.state = int(decode.get("state_size", 0))
        self.sessions: dict[str, ort.InferenceSession] = {}
        self.names: dict[str, tuple[list[str], list[str]]] = {}
        for graph in info["graphs"]:
            role = str(graph["role"]).removeprefix("GRAPH_ROLE_").lower()
            self.sessions[role] = _session(folder / graph["file"], threads)
            ins = [t["name"] for t in graph["inputs"]]
            outs = [t["name"] for t in graph["outputs"]]
            self.names[role] = (ins, outs)
        self.eye = np.eye(max(self.in_card, 1), dtype=np.float32)

    def onehot(self, symbols: np.ndarray) -> np.ndarray:
        return self.eye[symbols]

    def _run(self, role: str, *arrays: np.ndarray) -> list[np.ndarray]:
        ins, outs = self.names[role]
        return self.sessions[role].run(outs, dict(zip(ins, arrays, strict=True)))  # type: ignore[no-any-return]

    def predict(self, symbols: np.ndarray) -> np.ndarray:
        """int64 [B, L] input symbols -> int64 [B, out] output symbols (seq2seq: greedy decode)."""
        if "encoder" in self.sessions:
            return self.decode(self.onehot(symbols))
        (y,) = self._run("model", self.onehot(symbols))
        return y.argmax(axis=-1).astype(np.int64).reshape(len(symbols), -1)

    def decode(self, source: np.ndarray) -> np.ndarray:
        """Greedy decode of one-hot sources [B, L, C]: encoder once, then `steps` decoder steps."""
        h, c = self._run("encoder", source)
        batch = source.shape[0]
        symbol = np.full(batch, self.start, dtype=np.int64)
        out = np.empty((batch, self.steps), dtype=np.int64)
        for i in range(self.steps):
            probs, h, c = self._run("decoder_step", self.eye[symbol], h, c)
            symbol = probs.argmax(axis=-1)
            out[:, i] = symbol
        return out

    def greedy(self, symbols: np.ndarray) -> np.ndarray:
        """The same greedy decode in one call of the model's `greedy.onnx`, when it has one."""
        symbols_out, _ = self._run("greedy", symbols)
        return symbols_out

    def zero_state(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        zeros = np.zeros((batch, self.state), dtype=np.float32)
        return zeros, zeros.copy()

    def step(
        self, symbols: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of a stateful model: int64 [B] symbols and state -> next symbols and state."""
        probs, h, c = self._run("step", self.eye[symbols], h, c)
        return probs.argmax(axis=-1), h, c
