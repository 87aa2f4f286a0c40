"""Fit one model from its catalog entry and cache the weights under ``build/``.

The cache is keyed by the model's fingerprint, so ``export`` reuses what ``train`` fitted and
an unchanged model is never fitted twice.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from seqserve.trainer import runtime

runtime.configure()

import keras  # noqa: E402

from seqserve.trainer import builders, datasets  # noqa: E402
from seqserve.trainer import cache as cache_store  # noqa: E402
from seqserve.trainer.cache import Record  # noqa: E402
from seqserve.trainer.catalog import Model  # noqa: E402

CURVE_POINTS_PER_EPOCH = 20


def data_rng(model: Model, seed: int) -> np.random.Generator:
    """The training data stream of one model: the seed plus a per-model key."""
    return np.random.default_rng([seed, zlib.crc32(model.name.encode())])


def build(model: Model) -> keras.Model:
    return getattr(builders, f"build_{model.name}")(model.plan.learning_rate)


class _Curve(keras.callbacks.Callback):
    """Mean training loss over each stretch of about ``every`` batches of one epoch.

    Keras reports the running mean since the start of the epoch; differencing the running
    sums gives the loss of each stretch alone, so the curve does not lag.
    """

    def __init__(self, every: int, steps: int, batch_size: int, offset: int) -> None:
        super().__init__()
        self.every, self.steps, self.batch_size, self.offset = every, steps, batch_size, offset
        self.next, self.done, self.total = every, 0, 0.0
        self.points: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        # With steps_per_execution this runs once per group of batches, not per batch.
        # The index of the last group of an epoch can run past the epoch's last batch.
        done = min(batch + 1, self.steps)
        if logs and done >= self.next and done > self.done:
            total = float(logs["loss"]) * done
            loss = (total - self.total) / (done - self.done)
            self.points.append((self.offset + done * self.batch_size, loss))
            self.next, self.done, self.total = done + self.every, done, total


def fit(model: Model, seed: int, fingerprint: str, log: bool = True) -> tuple[keras.Model, Record]:
    """Fit ``model`` on fresh data each epoch; print one progress line per epoch."""
    runtime.seed_everything(seed)
    rng = data_rng(model, seed)
    net = build(model)
    plan = model.plan
    generate = getattr(datasets, model.data)
    start = time.perf_counter()
    curve: list[tuple[int, float]] = []
    final: dict[str, float] = {}
    examples = 0
    for epoch in range(plan.epochs):
        data = generate(rng, plan.units)
        examples = len(data.y)
        steps = -(-examples // plan.batch_size)
        tracker = _Curve(
            max(1, steps // CURVE_POINTS_PER_EPOCH), steps, plan.batch_size, epoch * examples
        )
        history = net.fit(
            data.x, data.y, batch_size=plan.batch_size, epochs=1, verbose=0, callbacks=[tracker]
        )
        final = {k: float(v[-1]) for k, v in history.history.items()}
        curve += tracker.points or [((epoch + 1) * examples, final["loss"])]
        if log and (epoch + 1) % max(1, plan.epochs // 10) == 0:
            figures = " ".join(f"{k} {v:.4g}" for k, v in final.items())
            elapsed = time.perf_counter() - start
            print(f"  {model.name}: epoch {epoch + 1}/{plan.epochs} {figures} ({elapsed:.1f}s)")
    record = Record(
        fingerprint=fingerprint,
        seed=seed,
        parameters=int(net.count_params()),
        seconds=round(time.perf_counter() - start, 2),
        epochs=plan.epochs,
        examples=examples,
        batch_size=plan.batch_size,
        curve=curve,
        final=final,
    )
    return net, record


# ------------------------------------------------------------------ cache


def save(cache: Path, model: Model, net: keras.Model, record: Record) -> None:
    """Write weights and record into a temporary folder, then rename it into place."""
    final = cache_store.folder(cache, model, record.fingerprint)
    tmp = final.with_name(f".tmp-{record.fingerprint}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    net.save_weights(tmp / cache_store.WEIGHTS)
    cache_store.write_record(tmp / cache_store.RECORD, record)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def load(cache: Path, model: Model, fingerprint: str) -> tuple[keras.Model, Record]:
    net = build(model)
    with warnings.catch_warnings():  # the optimizer state is saved too but not needed here
        warnings.simplefilter("ignore", UserWarning)
        net.load_weights(cache_store.folder(cache, model, fingerprint) / cache_store.WEIGHTS)
    record = cache_store.read_record(cache, model, fingerprint)
    assert record is not None
    return net, record
