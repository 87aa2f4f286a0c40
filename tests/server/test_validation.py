"""Edge validation: the codec's shortcut answers exactly what the precise checks answer.

For every exported manifest, random valid and invalid inputs (wrong kinds and lengths,
out-of-range and int64-extreme ints, NaN and infinity, bools, padded and malformed text,
empty inputs) give the same items, element types included, or the same refusal word for
word, whether or not `codecs.Codec` takes them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqserve.contract import codecs
from seqserve.contract.manifest import read_manifest
from seqserve.server import limits, validation
from seqserve.server.errors import InvalidInput
from seqserve.server.repository import ModelVersion
from seqserve.v1 import seqserve_pb2 as pb

INT64 = [-(2**63), 2**63 - 1]
NOT_FINITE = [math.nan, math.inf, -math.inf]
FUZZ = settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="session")
def models(models_dir: Path) -> list[ModelVersion]:
    """Every exported version, each keeping its codec across examples (texts remembered)."""
    found = []
    for path in sorted(models_dir.glob("*/*/model.json")):
        info = read_manifest(path.parent)
        found.append(ModelVersion(info.name, info.version, info))
    return found


# ------------------------------------------------------------------ what to send


def valid_texts(spec: pb.SequenceSpec) -> st.SearchStrategy[str]:
    fmt = spec.format
    term = st.integers(fmt.term_min, fmt.term_max).map(str)
    body = st.lists(term, min_size=fmt.terms, max_size=fmt.terms).map(fmt.separator.join)
    pads = st.integers(0, 2).map(lambda n: (spec.pad or " ") * n)
    return st.tuples(pads, body).map("".join)


def near_texts(spec: pb.SequenceSpec) -> st.SearchStrategy[str]:
    """Mostly malformed: near the grammar, over its ranges, or any characters at all."""
    fmt = spec.format
    term = st.integers(fmt.term_min - 2, fmt.term_max + 2).map(str) | st.text(max_size=3)
    body = st.lists(term, min_size=0, max_size=fmt.terms + 1).map((fmt.separator or "+").join)
    pads = st.integers(0, spec.length + 2).map(lambda n: (spec.pad or " ") * n)
    return (
        st.tuples(pads, body).map("".join)
        | st.text(alphabet=spec.alphabet + "x- \t", max_size=spec.length + 3)
        | st.text(max_size=8)
    )


def numbers(spec: pb.SequenceSpec, valid: bool) -> st.SearchStrategy[list[int]]:
    low, high = spec.min_value, spec.max_value
    element = st.integers(low, high)
    lengths = st.just(spec.length)
    if not valid:
        element |= st.sampled_from([low - 1, high + 1, 0, *INT64])
        lengths = st.sampled_from([spec.length, spec.length, spec.length - 1, spec.length + 1, 0])
    return lengths.flatmap(lambda n: st.lists(element, min_size=max(n, 0), max_size=max(n, 0)))


def floats(spec: pb.SequenceSpec) -> st.SearchStrategy[list[float]]:
    low, high = spec.min_value, spec.max_value
    element = (
        st.integers(low, high).map(float)
        | st.floats(low - 1, high + 1)
        | st.sampled_from([*NOT_FINITE, float(high) + 0.5])
    )
    lengths = st.sampled_from([spec.length, spec.length, spec.length + 1])
    return lengths.flatmap(lambda n: st.lists(element, min_size=n, max_size=n))


def wire_input(spec: pb.SequenceSpec) -> st.SearchStrategy[pb.Input]:
    """Valid inputs half the time, then every kind of wrong one."""
    if spec.kind == pb.DATA_KIND_TEXT:
        valid = valid_texts(spec).map(lambda s: pb.Input(text=s))
    else:
        valid = numbers(spec, True).map(lambda v: pb.Input(ints=pb.Ints(values=v)))
    invalid = (
        numbers(spec, False).map(lambda v: pb.Input(ints=pb.Ints(values=v)))
        | floats(spec).map(lambda v: pb.Input(values=pb.Values(values=v)))
        | near_texts(spec).map(lambda s: pb.Input(text=s))
        | st.just(pb.Input())
        | st.just(pb.Input(ints=pb.Ints()))
    )
    return valid | invalid


def python_item(spec: pb.SequenceSpec) -> st.SearchStrategy[object]:
    """What a caller may hand `encode`: strings, int/float/bool lists and tuples, other types."""
    element = (
        st.integers(spec.min_value, spec.max_value)
        | st.integers(spec.min_value, spec.max_value).map(float)
        | st.booleans()
        | st.sampled_from([*NOT_FINITE, spec.max_value + 1, 2**70, "1", None])
    )
    lengths = st.sampled_from([spec.length, spec.length, spec.length + 1, 0])
    lists = lengths.flatmap(lambda n: st.lists(element, min_size=n, max_size=n))
    texts = valid_texts(spec) | near_texts(spec) if spec.kind == pb.DATA_KIND_TEXT else st.text()
    others = st.sampled_from([None, 3, 2.5, b"3+10", {"a": 1}, range(spec.length)])
    return lists | lists.map(tuple) | texts | others


# ------------------------------------------------------------------ what they must give


def precise_message(info: pb.ModelInfo, message: pb.Input) -> object:
    try:
        return typed(codecs.encode_message(info, message))
    except codecs.InputError as exc:
        return str(exc)


def precise_value(info: pb.ModelInfo, item: object) -> object:
    try:
        return typed(codecs.encode(info, item))
    except codecs.InputError as exc:
        return str(exc)


def typed(item: Sequence[object]) -> list[tuple[type, object]]:
    """Items compared with their element types: 3 and 3.0 are not the same symbol."""
    return [(type(v), v) for v in item]


def in_order(
    model: ModelVersion, inputs: Sequence[pb.Input], max_items: int, max_length: int
) -> object:
    """The answer of the checks one after the other: batch size, lengths, each input."""
    try:
        validation.check_batch(model, len(inputs), max_items)
        limits.check_input_lengths(inputs, max_length)
    except InvalidInput as exc:
        return str(exc)
    items = []
    for index, message in enumerate(inputs):
        try:
            items.append(typed(codecs.encode_message(model.info, message)))
        except codecs.InputError as exc:
            return str(exc) if len(inputs) == 1 else f"input {index}: {exc}"
    return items


def validated(
    model: ModelVersion, inputs: Sequence[pb.Input], max_items: int, max_length: int
) -> object:
    try:
        valid = validation.predict_from_messages(model, inputs, max_items, max_length, None)
    except InvalidInput as exc:
        return str(exc)
    return [typed(item) for item in valid.items]


def values_in_order(model: ModelVersion, items: Sequence[object]) -> object:
    """`encode` on each plain item: the items, or the first refusal (with no index)."""
    answers = []
    for item in items:
        answer = precise_value(model.info, item)
        if isinstance(answer, str):
            return answer
        answers.append(answer)
    return answers


def validated_values(model: ModelVersion, items: Sequence[object]) -> object:
    try:
        valid = validation.predict_from_values(model, items, 256, None)
    except InvalidInput as exc:
        return str(exc)
    return [typed(item) for item in valid.items]


# ------------------------------------------------------------------ tests


@FUZZ
@given(data=st.data())
def test_quick_all_gives_what_the_precise_checker_gives(
    models: list[ModelVersion], data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(models))
    messages = data.draw(st.lists(wire_input(model.info.input), min_size=1, max_size=4))
    quick = model.codec.quick_all(messages)
    if quick is not None:
        assert [typed(item) for item in quick] == [precise_message(model.info, m) for m in messages]
        assert max(map(len, quick)) <= model.codec.length


@FUZZ
@given(data=st.data())
def test_quick_values_gives_what_encode_gives(
    models: list[ModelVersion], data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(models))
    items = data.draw(st.lists(python_item(model.info.input), min_size=1, max_size=4))
    quick = model.codec.quick_values(items)
    if quick is not None:
        assert [typed(item) for item in quick] == [precise_value(model.info, i) for i in items]


@FUZZ
@given(data=st.data())
def test_a_batch_is_answered_as_the_checks_in_order_answer_it(
    models: list[ModelVersion], data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(models))
    spec = model.info.input
    inputs = data.draw(st.lists(wire_input(spec), max_size=5))
    max_items = data.draw(st.sampled_from([3, 256]))
    max_length = data.draw(st.sampled_from([max(spec.length - 1, 1), spec.length, 4096]))
    assert validated(model, inputs, max_items, max_length) == in_order(
        model, inputs, max_items, max_length
    )


@FUZZ
@given(data=st.data())
def test_plain_values_are_answered_as_encode_answers_them(
    models: list[ModelVersion], data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(models))
    items = data.draw(st.lists(python_item(model.info.input), min_size=1, max_size=4))
    assert validated_values(model, items) == values_in_order(model, items)


def test_valid_input_takes_the_shortcut(models: list[ModelVersion]) -> None:
    """Not a behaviour a caller sees; without it the shortcut would be dead code."""
    for model in models:
        spec, codec = model.info.input, model.codec
        if spec.kind == pb.DATA_KIND_TEXT:
            messages = [pb.Input(text=spec.format.example)] * 3
            items: list[object] = [spec.format.example] * 3
        else:
            row = [spec.min_value, spec.max_value] * spec.length
            items = [row[: spec.length], tuple(row[1 : spec.length + 1])]
            messages = [pb.Input(ints=pb.Ints(values=item)) for item in items]  # type: ignore[arg-type]
        assert codec.quick_all(messages) is not None, model.name
        assert codec.quick_values(items) is not None, model.name
        if spec.encoding == pb.ENCODING_SCALED:
            values = pb.Input(values=pb.Values(values=[spec.min_value + 0.5] * spec.length))
            assert codec.quick_all([values, messages[0]]) is not None, model.name


def test_not_finite_values_anywhere_are_refused(models: list[ModelVersion]) -> None:
    scaled = [m for m in models if m.info.input.encoding == pb.ENCODING_SCALED]
    assert scaled, "no scaled model exported"
    for model in scaled:
        spec = model.info.input
        for bad, position in itertools.product(NOT_FINITE, range(spec.length)):
            row = [float(spec.min_value)] * spec.length
            row[position] = bad
            message = pb.Input(values=pb.Values(values=row))
            want = f"{codecs.describe_input(model.info)}; got {bad} at position {position}"
            assert str(validated(model, [message], 256, 4096)).endswith(want)
            assert str(validated_values(model, [row])).endswith(want)


def by_name(models: list[ModelVersion], name: str) -> ModelVersion:
    return max((m for m in models if m.name == name), key=lambda m: m.version)


def test_an_oversized_input_is_refused_before_a_bad_one(models: list[ModelVersion]) -> None:
    reverse = by_name(models, "reverse")
    bad = pb.Input(ints=pb.Ints(values=[0] * 6))
    huge = pb.Input(ints=pb.Ints(values=[1] * 7))
    assert validated(reverse, [bad, huge], 256, 6) == (
        "input 1 has 7 elements; the server accepts at most 6 per input (max_input_length)"
    )
    assert validated(reverse, [bad, huge], 256, 7) == (
        "input 0: reverse expects 6 ints in 1-50; got 0 at position 0"
    )
    good = pb.Input(ints=pb.Ints(values=[1] * 6))
    # the batch count is checked first: no input is read when there are too many
    assert validated(reverse, [good] * 3 + [huge], 2, 6).startswith("batch of 4 inputs")
    assert validated(reverse, [good] * 3, 2, 6).startswith("batch of 3 inputs is over the limit")
    assert validated(reverse, [good], 256, 5).startswith("input 0 has 6 elements")


def test_padded_text_longer_than_the_model_takes_the_long_way(
    models: list[ModelVersion],
) -> None:
    addition = by_name(models, "addition")
    padded = pb.Input(text=" " * 20 + "3+10")
    assert validated(addition, [padded], 256, 4096) == [typed(codecs.encode(addition.info, "3+10"))]
    assert validated(addition, [padded], 256, 10) == (
        "input 0 has 24 elements; the server accepts at most 10 per input (max_input_length)"
    )


def test_texts_past_the_remembered_ones_are_still_checked(models: list[ModelVersion]) -> None:
    class Forgetful(codecs.Codec):
        TEXTS_REMEMBERED = 2

    info = by_name(models, "addition").info
    codec = Forgetful(info)
    texts = ["1+1", "2+2", "3+3", "10+10", "3+10", "3+11", "", "1+1"]
    for _ in range(2):
        for text in texts:
            quick = codec.quick_values([text])
            want = precise_value(info, text)
            assert (quick is None) == isinstance(want, str)
            assert quick is None or [typed(quick[0])] == [want]
