"""Core answers -> seqserve.v1 results: every field of every kind, and which output is set."""

from __future__ import annotations

import pytest

from seqserve.server.api.v1 import convert
from seqserve.server.core import PredictAnswer
from seqserve.server.results import ItemResult
from seqserve.v1 import seqserve_pb2 as pb


def test_each_kind_of_result_keeps_its_fields_and_its_output() -> None:
    items = [
        ItemResult(value=41.75, rounded=42),
        ItemResult(value=0.0),  # a zero value is still the value output
        ItemResult(symbols=(1, 3), text="13", confidence=(0.5, 0.25)),
        ItemResult(symbols=(11, 11), text="", confidence=(0.5, 0.5)),  # all padding
        ItemResult(symbols=(3, 2, 1), confidence=(1.0, 0.5, 0.25)),
        ItemResult(symbols=(2,), confidence=(0.5,), probabilities=(0.25, 0.25, 0.5)),
        ItemResult(symbols=(2,), text="2", confidence=(0.5,), probabilities=(0.5, 0.5)),
        ItemResult(),
    ]
    response = convert.answer(PredictAnswer("m", 7, items))
    assert (response.model, response.version) == ("m", 7)
    got = [(r.WhichOneof("output"), r.version) for r in response.results]
    outputs = ["value", "value", "text", "text", "ints", "ints", "text", "ints"]
    assert got == [(output, 7) for output in outputs]
    first, zero, text, padding, ints, classes, text_classes, empty = response.results
    assert (first.value, first.rounded, list(first.confidence)) == (41.75, 42, [])
    assert (zero.value, zero.rounded) == (0.0, 0)
    assert (text.text, list(text.confidence), list(text.probabilities)) == ("13", [0.5, 0.25], [])
    assert padding.text == ""
    assert list(ints.ints.values) == [3, 2, 1] and list(ints.confidence) == [1.0, 0.5, 0.25]
    assert list(classes.ints.values) == [2]
    assert list(classes.probabilities) == [0.25, 0.25, 0.5]
    assert text_classes.text == "2" and list(text_classes.probabilities) == [0.5, 0.5]
    assert empty == pb.Result(ints=pb.Ints(), version=7)


@pytest.mark.parametrize("count", [0, 1, 64])
def test_results_keep_their_order(count: int) -> None:
    items = [ItemResult(symbols=(i,), confidence=(0.5,)) for i in range(count)]
    response = convert.answer(PredictAnswer("m", 1, items))
    assert [r.ints.values[0] for r in response.results] == list(range(count))
