"""Manifest -> published tensors: names, datatypes, shapes, answer first."""

from __future__ import annotations

import pytest

from seqserve.server.api.kserve import tensors as t

from .manifests import NAMES, info

EXPECTED = {
    "echo_vanilla": (
        ("INPUT", "INT64", (-1, 5)),
        [
            ("OUTPUT", "INT64", (-1, 1)),
            ("CONFIDENCE", "FP32", (-1, 1)),
            ("PROBABILITIES", "FP32", (-1, 10)),
        ],
    ),
    "echo_whole": (
        ("INPUT", "INT64", (-1, 5)),
        [("OUTPUT", "INT64", (-1, 5)), ("CONFIDENCE", "FP32", (-1, 5))],
    ),
    "echo_partial": (
        ("INPUT", "INT64", (-1, 5)),
        [("OUTPUT", "INT64", (-1, 2)), ("CONFIDENCE", "FP32", (-1, 2))],
    ),
    "addition": (
        ("INPUT", "BYTES", (-1, 1)),
        [("OUTPUT", "BYTES", (-1, 1)), ("CONFIDENCE", "FP32", (-1, 2))],
    ),
    "sum_regression": (
        ("INPUT", "INT64", (-1, 2)),
        [("OUTPUT", "FP32", (-1, 1)), ("ROUNDED", "INT64", (-1, 1))],
    ),
    "sum_mlp": (
        ("INPUT", "INT64", (-1, 2)),
        [("OUTPUT", "FP32", (-1, 1)), ("ROUNDED", "INT64", (-1, 1))],
    ),
    "reverse": (
        ("INPUT", "INT64", (-1, 6)),
        [("OUTPUT", "INT64", (-1, 3)), ("CONFIDENCE", "FP32", (-1, 3))],
    ),
    "recall": (
        ("INPUT", "INT64", (1, 1)),
        [
            ("OUTPUT", "INT64", (1, 1)),
            ("CONFIDENCE", "FP32", (1, 1)),
            ("PROBABILITIES", "FP32", (1, 5)),
        ],
    ),
}


def test_every_model_is_covered() -> None:
    assert sorted(EXPECTED) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_published_tensors(name: str) -> None:
    model = info(name)
    want_input, want_outputs = EXPECTED[name]
    spec = t.input_spec(model)
    assert (spec.name, spec.datatype, spec.shape) == want_input
    assert [(s.name, s.datatype, s.shape) for s in t.output_specs(model)] == want_outputs


@pytest.mark.parametrize(
    ("name", "datatypes"),
    [
        ("addition", ("BYTES",)),
        ("echo_whole", ("INT64", "INT32")),
        ("sum_mlp", ("INT64", "INT32", "FP32", "FP64")),
        ("recall", ("INT64", "INT32")),
    ],
)
def test_accepted_datatypes(name: str, datatypes: tuple[str, ...]) -> None:
    assert t.input_datatypes(info(name)) == datatypes


def test_kinds() -> None:
    assert [n for n in NAMES if t.is_stateful(info(n))] == ["recall"]
    assert [n for n in NAMES if t.streams_symbols(info(n))] == ["reverse"]
