"""The shared codec on plain Python input: what it accepts, and each refusal word for word.

These are the messages callers see from the client's own check and, wrapped, from the
server; the server's shortcut (`codecs.Codec`) must answer the same (tests/server).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from seqserve.contract import codecs
from seqserve.contract.manifest import read_manifest
from seqserve.v1 import seqserve_pb2 as pb

REVERSE = "reverse expects 6 ints in 1-50; got "
SUM = "sum_mlp expects 2 values in 1-100; got "
ADDITION = 'addition expects 1-10 "+" 1-10, e.g. "3+10"; got '

ACCEPTED = [
    ("reverse", [1, 2, 3, 4, 5, 6], (1, 2, 3, 4, 5, 6)),
    ("reverse", (50, 1, 1, 1, 1, 1), (50, 1, 1, 1, 1, 1)),
    ("reverse", [1.0, 2, 3, 4, 5, 50.0], (1, 2, 3, 4, 5, 50)),  # whole floats become ints
    ("sum_mlp", [1, 100], (1.0, 100.0)),
    ("sum_mlp", [1.5, 99.25], (1.5, 99.25)),
    ("addition", "3+10", (11, 3, 10, 1, 0)),
    ("addition", "  3+10", (11, 3, 10, 1, 0)),
    ("addition", " " * 20 + "3+10", (11, 3, 10, 1, 0)),  # any left padding
    ("addition", "1+1", (11, 11, 1, 10, 1)),
    ("addition", "03+10", (0, 3, 10, 1, 0)),
    ("recall", [4], (4,)),
]

REFUSED = [
    ("reverse", [True, 2, 3, 4, 5, 6], REVERSE + "True at position 0"),
    ("reverse", [1, 2, 3, 4, 5, 2.5], REVERSE + "2.5 at position 5"),
    ("reverse", (1, 2, 3, 4, 5, math.nan), REVERSE + "nan at position 5"),
    ("reverse", [1, 2, "3", 4, 5, 6], REVERSE + '"3" at position 2'),
    ("reverse", [0, 2, 3, 4, 5, 6], REVERSE + "0 at position 0"),
    ("reverse", [1, 2, 3, 4, 5, 51], REVERSE + "51 at position 5"),
    ("reverse", [1, 2, 3], REVERSE + "3 items"),
    ("reverse", [1], REVERSE + "1 item"),
    ("reverse", [], REVERSE + "0 items"),
    ("reverse", "1 2 3", REVERSE + 'text "1 2 3"'),
    ("reverse", None, REVERSE + "NoneType"),
    ("reverse", b"123456", REVERSE + "bytes"),
    ("sum_mlp", [False, 3], SUM + "False at position 0"),
    ("sum_mlp", [math.nan, 3], SUM + "nan at position 0"),
    ("sum_mlp", [3, math.inf], SUM + "inf at position 1"),
    ("sum_mlp", [0, 3], SUM + "0 at position 0"),
    ("sum_mlp", [1, 100.5], SUM + "100.5 at position 1"),
    ("sum_mlp", [3, 10**400], SUM + "1000000000000000000000000000000000000... at position 1"),
    ("addition", "3+11", ADDITION + '"3+11"'),
    ("addition", "3+x", ADDITION + '"3+x"'),
    ("addition", "", ADDITION + '""'),
    ("addition", "   ", ADDITION + '"   "'),
    ("addition", "1+2+3", ADDITION + '"1+2+3"'),
    ("addition", "3 + 10", ADDITION + '"3 + 10"'),
    ("addition", "١+٢", ADDITION + '"١+٢"'),  # digits, but not ASCII
    ("addition", "x" * 60, ADDITION + '"' + "x" * 36 + "..."),
    ("addition", [3, 10], ADDITION + "2 items instead of text"),
    ("recall", [5], "recall expects 1 int in 0-4; got 5 at position 0"),
]

MESSAGES = [
    (pb.Input(), REVERSE + "an empty input"),
    (pb.Input(ints=pb.Ints()), REVERSE + "0 items"),
    (pb.Input(values=pb.Values(values=[1.5] * 6)), REVERSE + "1.5 at position 0"),
    (pb.Input(text="3+10"), REVERSE + 'text "3+10"'),
]


@pytest.fixture(scope="session")
def infos(models_dir: Path) -> dict[str, pb.ModelInfo]:
    return {
        name: read_manifest(max((models_dir / name).iterdir(), key=lambda p: int(p.name)))
        for name in ("reverse", "sum_mlp", "addition", "recall")
    }


@pytest.mark.parametrize(("model", "item", "encoded"), ACCEPTED)
def test_accepted(infos: dict[str, pb.ModelInfo], model: str, item: object, encoded: tuple) -> None:
    got = codecs.encode(infos[model], item)
    assert got == encoded
    assert [type(v) for v in got] == [type(v) for v in encoded]


@pytest.mark.parametrize(("model", "item", "message"), REFUSED)
def test_refused(infos: dict[str, pb.ModelInfo], model: str, item: object, message: str) -> None:
    with pytest.raises(codecs.InputError) as refused:
        codecs.encode(infos[model], item)
    assert str(refused.value) == message


@pytest.mark.parametrize(("message", "refusal"), MESSAGES)
def test_wire_message_refused(
    infos: dict[str, pb.ModelInfo], message: pb.Input, refusal: str
) -> None:
    with pytest.raises(codecs.InputError) as refused:
        codecs.encode_message(infos["reverse"], message)
    assert str(refused.value) == refusal


def test_whole_float_values_on_the_wire_are_ints(infos: dict[str, pb.ModelInfo]) -> None:
    message = pb.Input(values=pb.Values(values=[1.0, 2, 3, 4, 5, 6]))
    got = codecs.encode_message(infos["reverse"], message)
    assert got == (1, 2, 3, 4, 5, 6) and all(type(v) is int for v in got)


def test_decode_text_strips_only_the_pad() -> None:
    padded = pb.SequenceSpec(alphabet="0123456789+ ", pad=" ")
    assert codecs.decode_text(padded, [11, 1, 3]) == "13"
    assert codecs.text_decoder(padded)([11, 11]) == ""
    unpadded = pb.SequenceSpec(alphabet="ab ")
    assert codecs.decode_text(unpadded, [2, 0, 1]) == " ab"  # no pad: nothing stripped
    assert codecs.text_decoder(unpadded)([1, 2]) == "b "
