"""Known answers of the eight exported models, shared by the sync and async tests."""

from __future__ import annotations

from seqserve.client import Prediction

MODELS = {
    "echo_vanilla", "echo_whole", "echo_partial", "addition",
    "sum_regression", "sum_mlp", "reverse", "recall",
}  # fmt: skip

# model, input, the field that holds the answer, the answer
PREDICT_CASES = [
    ("echo_vanilla", [1, 2, 3, 4, 5], "ints", (3,)),
    ("echo_whole", [10, 20, 30, 40, 50], "ints", (10, 20, 30, 40, 50)),
    ("echo_partial", [10, 20, 30, 40, 50], "ints", (10, 20)),
    ("addition", "3+10", "text", "13"),
    ("addition", " 7+8", "text", "15"),
    ("sum_mlp", [40, 2], "rounded", 42),
    ("sum_mlp", [40.0, 2.0], "rounded", 42),
    ("reverse", [1, 2, 3, 4, 5, 6], "ints", (3, 2, 1)),
]

# recall: after the first symbol, the sequence 3 0 1 2 -> 3 and 4 0 1 2 -> 4
RECALL = [([3, 0, 1, 2], [0, 1, 2, 3]), ([4, 0, 1, 2], [0, 1, 2, 4])]


def check_shape(result: Prediction, model: str) -> None:
    """What every answer of `model` carries besides its value."""
    assert result.model == model and result.version >= 1
    if model == "echo_vanilla":
        assert len(result.probabilities) == 10 and abs(sum(result.probabilities) - 1) < 1e-3
    if result.ints is not None or result.text is not None:
        assert result.value is None and result.rounded is None
        width = len(result.ints) if result.ints is not None else 2
        assert len(result.confidence) == width
        assert all(0.0 <= c <= 1.0 for c in result.confidence)
    else:
        assert result.value is not None and result.rounded == round(result.value)


def check_regression(result: Prediction) -> None:
    """sum_regression is the tutorial's LSTM regressor: RMSE about 0.6 in original units."""
    assert result.value is not None and abs(result.value - 42) < 1.5
    assert result.rounded == round(result.value)
