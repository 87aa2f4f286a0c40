"""Vectorised NumPy data for the eight tutorial models (see docs/models.md of the project).

Every generator takes a ``numpy.random.Generator`` so the data is reproducible from a seed,
and returns float32 arrays ready for Keras plus the integer symbols they were made from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# echo_vanilla
VANILLA_LENGTH = 5
VANILLA_CARDINALITY = 10
VANILLA_OUT_INDEX = 2
# echo_whole / echo_partial
ECHO_SEQUENCE = 25
ECHO_WINDOW = 5
ECHO_CARDINALITY = 100
ECHO_PARTIAL_OUT = 2
# sum_regression / sum_mlp
SUM_TERMS = 2
SUM_LARGEST = 100
SUM_SCALE = float(SUM_LARGEST * SUM_TERMS)
# addition
ADD_TERMS = 2
ADD_LARGEST = 10
ADD_ALPHABET = "0123456789+ "
ADD_SEPARATOR = "+"
ADD_PAD = " "
ADD_IN_LENGTH = ADD_TERMS * math.ceil(math.log10(ADD_LARGEST + 1)) + ADD_TERMS - 1
ADD_OUT_LENGTH = math.ceil(math.log10(ADD_TERMS * (ADD_LARGEST + 1)))
# reverse
REVERSE_CARDINALITY = 51
REVERSE_SOURCE = 6
REVERSE_TARGET = 3
REVERSE_START = 0
# recall
RECALL_SEQUENCES = np.array([[3, 0, 1, 2, 3], [4, 0, 1, 2, 4]])
RECALL_CARDINALITY = 5


@dataclass(frozen=True)
class Data:
    """Model inputs ``x`` and targets ``y`` (float32), and the integer problem behind them."""

    x: np.ndarray | tuple[np.ndarray, ...]
    y: np.ndarray
    symbols: np.ndarray
    targets: np.ndarray


def onehot(symbols: np.ndarray, cardinality: int) -> np.ndarray:
    """Integer array of any shape -> float32 one-hot with a trailing axis of ``cardinality``."""
    return np.eye(cardinality, dtype=np.float32)[np.asarray(symbols)]


def echo_vanilla(rng: np.random.Generator, n: int) -> Data:
    """``n`` sequences of 5 ints in [0, 10); the target is the value at index 2."""
    seqs = rng.integers(0, VANILLA_CARDINALITY, size=(n, VANILLA_LENGTH))
    target = seqs[:, VANILLA_OUT_INDEX]
    return Data(
        onehot(seqs, VANILLA_CARDINALITY), onehot(target, VANILLA_CARDINALITY), seqs, target
    )


def echo_windows(rng: np.random.Generator, sequences: int) -> np.ndarray:
    """``sequences`` random sequences of 25 ints in [0, 100), each cut into its 21 windows of 5."""
    seqs = rng.integers(0, ECHO_CARDINALITY, size=(sequences, ECHO_SEQUENCE))
    starts = np.arange(ECHO_SEQUENCE - ECHO_WINDOW + 1)
    index = starts[:, None] + np.arange(ECHO_WINDOW)[None, :]
    return seqs[:, index].reshape(-1, ECHO_WINDOW)


def echo_whole(rng: np.random.Generator, sequences: int) -> Data:
    """Windows of 5 ints in [0, 100); the target is the window itself."""
    windows = echo_windows(rng, sequences)
    x = onehot(windows, ECHO_CARDINALITY)
    return Data(x, x, windows, windows)


def echo_partial(rng: np.random.Generator, sequences: int) -> Data:
    """Windows of 5 ints in [0, 100); the target is the first 2 values of each window."""
    windows = echo_windows(rng, sequences)
    target = windows[:, :ECHO_PARTIAL_OUT]
    return Data(
        onehot(windows, ECHO_CARDINALITY), onehot(target, ECHO_CARDINALITY), windows, target
    )


def sum_terms(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs of ints in [1, 100] and their sums."""
    terms = rng.integers(1, SUM_LARGEST + 1, size=(n, SUM_TERMS))
    return terms, terms.sum(axis=1)


def sum_regression(rng: np.random.Generator, n: int) -> Data:
    """Scaled pairs shaped ``(n, 2, 1)`` -> scaled sums ``(n, 1)``."""
    terms, sums = sum_terms(rng, n)
    x = (terms / SUM_SCALE).astype(np.float32)[:, :, None]
    return Data(x, (sums / SUM_SCALE).astype(np.float32)[:, None], terms, sums)


def sum_mlp(rng: np.random.Generator, n: int) -> Data:
    """Scaled pairs shaped ``(n, 2)`` -> scaled sums ``(n, 1)``."""
    terms, sums = sum_terms(rng, n)
    x = (terms / SUM_SCALE).astype(np.float32)
    return Data(x, (sums / SUM_SCALE).astype(np.float32)[:, None], terms, sums)


def addition_text(terms: np.ndarray) -> tuple[list[str], list[str]]:
    """Term rows -> padded questions and answers: ``[3, 10]`` -> ``" 3+10"``, ``"13"``."""
    questions = [ADD_SEPARATOR.join(str(int(t)) for t in row) for row in terms]
    answers = [str(int(s)) for s in np.asarray(terms).sum(axis=1)]
    return (
        [q.rjust(ADD_IN_LENGTH, ADD_PAD) for q in questions],
        [a.rjust(ADD_OUT_LENGTH, ADD_PAD) for a in answers],
    )


def text_symbols(texts: list[str]) -> np.ndarray:
    """Equal-length strings -> their symbol indices in the addition alphabet."""
    table = np.full(128, -1, dtype=np.int64)
    table[[ord(ch) for ch in ADD_ALPHABET]] = np.arange(len(ADD_ALPHABET))
    codes = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), -1)
    return table[codes]


def addition_from_terms(terms: np.ndarray) -> Data:
    questions, answers = addition_text(terms)
    source, target = text_symbols(questions), text_symbols(answers)
    cardinality = len(ADD_ALPHABET)
    return Data(onehot(source, cardinality), onehot(target, cardinality), source, target)


def addition(rng: np.random.Generator, n: int) -> Data:
    """``n`` random sums of 2 ints in [1, 10], as one-hot text in and out."""
    return addition_from_terms(rng.integers(1, ADD_LARGEST + 1, size=(n, ADD_TERMS)))


def addition_all_pairs() -> np.ndarray:
    """Every term pair of the addition model (100 rows)."""
    values = np.arange(1, ADD_LARGEST + 1)
    return np.stack(np.meshgrid(values, values, indexing="ij"), axis=-1).reshape(-1, 2)


def reverse_sources(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(1, REVERSE_CARDINALITY, size=(n, REVERSE_SOURCE))


def reverse(rng: np.random.Generator, n: int) -> Data:
    """Sources of 6 ints in [1, 50]; target: the first 3 reversed; decoder in: 0 + target[:-1]."""
    source = reverse_sources(rng, n)
    target = source[:, :REVERSE_TARGET][:, ::-1]
    shifted = np.concatenate([np.full((n, 1), REVERSE_START), target[:, :-1]], axis=1)
    x = (onehot(source, REVERSE_CARDINALITY), onehot(shifted, REVERSE_CARDINALITY))
    return Data(x, onehot(target, REVERSE_CARDINALITY), source, target)


def recall(rng: np.random.Generator, repeats: int) -> Data:
    """The two fixed sequences as one-step pairs x_t -> x_{t+1}, each repeated ``repeats`` times.

    The data is fixed; ``rng`` is taken for a signature shared with the other generators.
    """
    del rng
    seqs = np.tile(RECALL_SEQUENCES, (repeats, 1))
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    return Data(
        onehot(inputs, RECALL_CARDINALITY), onehot(targets, RECALL_CARDINALITY), inputs, targets
    )
