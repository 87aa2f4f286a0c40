"""The data generators: shapes, ranges, the addition text rules and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from seqserve.trainer import datasets as ds


def rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_onehot_marks_each_symbol() -> None:
    x = ds.onehot(np.array([[0, 3], [2, 1]]), 4)
    assert x.shape == (2, 2, 4)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.argmax(-1), [[0, 3], [2, 1]])
    np.testing.assert_array_equal(x.sum(-1), 1.0)


def test_echo_vanilla_targets_index_two() -> None:
    data = ds.echo_vanilla(rng(), 500)
    assert data.x.shape == (500, 5, 10)
    assert data.y.shape == (500, 10)
    assert data.symbols.min() == 0 and data.symbols.max() == 9
    np.testing.assert_array_equal(data.y.argmax(-1), data.symbols[:, 2])


def test_echo_windows_are_consecutive_slices_of_25() -> None:
    windows = ds.echo_windows(rng(), 3)
    assert windows.shape == (3 * 21, 5)
    assert windows.min() >= 0 and windows.max() <= 99
    first = windows[:21]
    sequence = np.concatenate([first[:, 0], first[-1, 1:]])
    assert sequence.shape == (25,)
    for start in range(21):
        np.testing.assert_array_equal(first[start], sequence[start : start + 5])


def test_echo_whole_and_partial_targets() -> None:
    whole = ds.echo_whole(rng(), 4)
    assert whole.x.shape == whole.y.shape == (84, 5, 100)
    np.testing.assert_array_equal(whole.y.argmax(-1), whole.symbols)
    partial = ds.echo_partial(rng(), 4)
    assert partial.x.shape == (84, 5, 100)
    assert partial.y.shape == (84, 2, 100)
    np.testing.assert_array_equal(partial.y.argmax(-1), partial.symbols[:, :2])


@pytest.mark.parametrize(("generator", "shape"), [("sum_regression", (2, 1)), ("sum_mlp", (2,))])
def test_sums_are_scaled_by_200(generator: str, shape: tuple[int, ...]) -> None:
    data = getattr(ds, generator)(rng(), 1000)
    assert data.x.shape == (1000, *shape)
    assert data.y.shape == (1000, 1)
    assert data.symbols.min() >= 1 and data.symbols.max() <= 100
    np.testing.assert_allclose(data.x.reshape(1000, 2) * 200, data.symbols, rtol=1e-6)
    np.testing.assert_allclose(data.y[:, 0] * 200, data.symbols.sum(1), rtol=1e-6)
    np.testing.assert_array_equal(data.targets, data.symbols.sum(1))


def test_addition_padding_rule() -> None:
    assert ds.ADD_IN_LENGTH == 5
    assert ds.ADD_OUT_LENGTH == 2
    questions, answers = ds.addition_text(np.array([[3, 10], [1, 1], [10, 10]]))
    assert questions == [" 3+10", "  1+1", "10+10"]
    assert answers == ["13", " 2", "20"]


def test_addition_alphabet_order_and_encoding() -> None:
    assert ds.ADD_ALPHABET == "0123456789+ "
    data = ds.addition_from_terms(np.array([[3, 10]]))
    np.testing.assert_array_equal(data.symbols[0], [11, 3, 10, 1, 0])
    np.testing.assert_array_equal(data.targets[0], [1, 3])
    assert data.x.shape == (1, 5, 12)
    assert data.y.shape == (1, 2, 12)


def test_addition_random_terms_in_range() -> None:
    data = ds.addition(rng(), 2000)
    text = ["".join(ds.ADD_ALPHABET[s] for s in row) for row in data.symbols]
    terms = np.array([[int(t) for t in q.split("+")] for q in text])
    assert terms.min() == 1 and terms.max() == 10
    answers = ["".join(ds.ADD_ALPHABET[s] for s in row) for row in data.targets]
    np.testing.assert_array_equal([int(a) for a in answers], terms.sum(1))


def test_addition_all_pairs() -> None:
    pairs = ds.addition_all_pairs()
    assert pairs.shape == (100, 2)
    assert len({tuple(p) for p in pairs}) == 100


def test_reverse_targets_and_teacher_forcing() -> None:
    data = ds.reverse(rng(), 1000)
    source, shifted = data.x
    assert source.shape == (1000, 6, 51)
    assert shifted.shape == (1000, 3, 51)
    assert data.y.shape == (1000, 3, 51)
    assert data.symbols.min() == 1 and data.symbols.max() == 50
    np.testing.assert_array_equal(data.targets, data.symbols[:, 2::-1])
    np.testing.assert_array_equal(shifted.argmax(-1)[:, 0], 0)
    np.testing.assert_array_equal(shifted.argmax(-1)[:, 1:], data.targets[:, :-1])


def test_recall_pairs() -> None:
    data = ds.recall(rng(), 2)
    assert data.x.shape == (4, 4, 5)
    np.testing.assert_array_equal(data.symbols[:2], [[3, 0, 1, 2], [4, 0, 1, 2]])
    np.testing.assert_array_equal(data.targets[:2], [[0, 1, 2, 3], [0, 1, 2, 4]])


def test_generators_are_reproducible_from_a_seed() -> None:
    a, b = ds.reverse(rng(3), 50), ds.reverse(rng(3), 50)
    np.testing.assert_array_equal(a.symbols, b.symbols)
    assert not np.array_equal(a.symbols, ds.reverse(rng(4), 50).symbols)
