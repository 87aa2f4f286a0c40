"""B2, the tutorial way: the trained Keras models called one sequence at a time.

Two variants per model, each timed over a handful of sequences (it is slow):
- `predict`: `model.predict` per call, and for `reverse` the tutorial's `predict_sequence`
  loop: `infenc.predict(source)` once, then one `infdec.predict([target, h, c])` per output
  symbol, feeding back the argmax as one-hot;
- `direct`: the same calls as `model(x, training=False)` (no `predict` machinery).
`recall` runs one step per call through a step model built from the trained LSTM layer.

The weights come from the trainer's cache (`build/trainer/<name>/<fingerprint>/`, the
fingerprint read from the exported manifest). Without a cached copy the same architecture
is timed with its initial weights and the result says so: the time per call does not depend
on the weight values.

    python -m bench.keras_baseline --models models > b2.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.onnx_graphs import model_folder

CACHE = Path("build/trainer")


def _load(models: Path, name: str, cache: Path) -> tuple[object, str]:
    from seqserve.trainer import catalog, training

    info = json.loads((model_folder(models, name) / "model.json").read_text())
    fingerprint = info.get("training", {}).get("fingerprint", "")
    net = training.build(catalog.BY_NAME[name])
    weights = cache / name / fingerprint / "model.weights.h5"
    if fingerprint and weights.is_file():
        net.load_weights(weights)
        return net, f"trained weights from {weights}"
    return net, f"initial weights (no cached {weights}); timing does not depend on them"


def _timed(call: Callable[[], object], calls: int, budget: float) -> dict[str, float]:
    call()  # first call builds the graph / predict function
    done, start = 0, time.perf_counter()
    while done < calls and (done == 0 or time.perf_counter() - start < budget):
        call()
        done += 1
    elapsed = time.perf_counter() - start
    return {"sequences": done, "ms_per_seq": elapsed / done * 1e3, "seq_per_s": done / elapsed}


def reverse(net: object, calls: int, budget: float) -> dict[str, object]:
    import keras

    enc_lstm = net.get_layer("encoder_lstm")  # type: ignore[attr-defined]
    dec_lstm = net.get_layer("decoder_lstm")  # type: ignore[attr-defined]
    dense = net.get_layer("decoder_dense")  # type: ignore[attr-defined]
    card, units = dense.units, dec_lstm.units
    src = keras.Input((6, card))
    _, h, c = enc_lstm(src)
    infenc = keras.Model(src, [h, c])
    target_in, h_in, c_in = keras.Input((1, card)), keras.Input((units,)), keras.Input((units,))
    seq, h2, c2 = dec_lstm(target_in, initial_state=[h_in, c_in])
    infdec = keras.Model([target_in, h_in, c_in], [dense(seq), h2, c2])
    eye = np.eye(card, dtype=np.float32)
    source = eye[np.random.default_rng(0).integers(1, card, size=(1, 6))]

    def predict_sequence() -> list[int]:  # the tutorial's loop, with greedy one-hot feedback
        state = infenc.predict(source, verbose=0)
        target = eye[[[0]]]
        out = []
        for _ in range(3):
            yhat, h, c = infdec.predict([target, *state], verbose=0)
            symbol = int(yhat[0, 0].argmax())
            out.append(symbol)
            state, target = [h, c], eye[[[symbol]]]
        return out

    tensor = keras.ops.convert_to_tensor

    def direct_sequence() -> list[int]:
        h, c = infenc(tensor(source), training=False)
        target = tensor(eye[[[0]]])
        out = []
        for _ in range(3):
            yhat, h, c = infdec([target, h, c], training=False)
            symbol = int(np.asarray(yhat)[0, 0].argmax())
            out.append(symbol)
            target = tensor(eye[[[symbol]]])
        return out

    return {
        "predict": _timed(predict_sequence, calls, budget),
        "direct": _timed(direct_sequence, calls * 4, budget),
    }


def single(net: object, name: str, calls: int, budget: float) -> dict[str, object]:
    shape = net.inputs[0].shape[1:]  # type: ignore[attr-defined]
    x = np.zeros((1, *shape), dtype=np.float32)
    x[..., 0] = 1.0
    return {
        "predict": _timed(lambda: net.predict(x, verbose=0), calls, budget),  # type: ignore[attr-defined]
        "direct": _timed(lambda: net(x, training=False), calls * 4, budget),  # type: ignore[operator]
    }


def recall(net: object, calls: int, budget: float) -> dict[str, object]:
    import keras

    lstm, dense = net.get_layer("lstm"), net.get_layer("dense")  # type: ignore[attr-defined]
    card, units = dense.units, lstm.units
    x_in, h_in, c_in = keras.Input((1, card)), keras.Input((units,)), keras.Input((units,))
    seq, h, c = lstm(x_in, initial_state=[h_in, c_in])
    step = keras.Model([x_in, h_in, c_in], [dense(seq), h, c])
    x = np.eye(card, dtype=np.float32)[[[3]]]
    zeros = np.zeros((1, units), dtype=np.float32)
    tx, tz = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(zeros)
    return {
        "predict": _timed(lambda: step.predict([x, zeros, zeros], verbose=0), calls, budget),
        "direct": _timed(lambda: step([tx, tz, tz], training=False), calls * 4, budget),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--calls", type=int, default=12, help="sequences per predict variant")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds per variant at most")
    args = parser.parse_args()
    from seqserve.trainer import runtime

    runtime.configure()
    out: dict[str, object] = {}
    for name in ("reverse", "addition", "recall"):
        net, weights = _load(args.models, name, args.cache)
        if name == "reverse":
            result = reverse(net, args.calls, args.budget)
        elif name == "recall":
            result = recall(net, args.calls, args.budget)
        else:
            result = single(net, name, args.calls, args.budget)
        out[name] = {**result, "weights": weights}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
