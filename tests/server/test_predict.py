"""Every model through gRPC answers exactly what its graphs answer run directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqserve.contract import codecs
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import ints, kind_models, newest
from .reference import expected, fresh_inputs

STATELESS = (
    pb.SERVING_KIND_CLASSIFY,
    pb.SERVING_KIND_TAG,
    pb.SERVING_KIND_FIXED_SEQ2SEQ,
    pb.SERVING_KIND_REGRESS,
    pb.SERVING_KIND_SEQ2SEQ,
)
COUNT = 200


def check(result: pb.Result, want: dict[str, object], version: int) -> None:
    assert result.version == version
    if "value" in want:
        assert result.WhichOneof("output") == "value"
        assert result.value == pytest.approx(want["value"], rel=1e-5, abs=1e-5)
        assert result.rounded == want["rounded"]
        return
    if "text" in want:
        assert result.text == want["text"]
    else:
        assert list(result.ints.values) == want["ints"]
    assert list(result.confidence) == pytest.approx(want["confidence"], abs=1e-5)
    if "probabilities" in want:
        assert list(result.probabilities) == pytest.approx(want["probabilities"], abs=1e-5)


def test_serves_every_exported_model(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    listed = stub.ListModels(pb.ListModelsRequest()).models
    assert sorted(m.info.name for m in listed) == sorted(manifests)
    assert all(m.ready and m.reason == "" for m in listed), [
        (m.info.name, m.reason) for m in listed
    ]


@pytest.mark.parametrize("batch", [1, COUNT], ids=["one-per-call", "one-call"])
def test_fresh_inputs_match_direct_onnxruntime(
    stub: pb_grpc.SeqServeStub, manifests: dict, models_dir: Path, batch: int
) -> None:
    names = kind_models(manifests, *STATELESS)
    assert names, "no stateless models exported"
    for seed, name in enumerate(names):
        info = manifests[name]
        inputs = fresh_inputs(info, COUNT, seed=1000 + seed)
        want = expected(newest(models_dir, name), inputs)
        results: list[pb.Result] = []
        for start in range(0, COUNT, batch):
            chunk = inputs[start : start + batch]
            reply = stub.Predict(
                pb.PredictRequest(model=name, inputs=[codecs.to_message(i) for i in chunk]),
                timeout=30,
            )
            assert (reply.model, reply.version) == (name, info.version)
            results.extend(reply.results)
        assert len(results) == COUNT
        for result, answer in zip(results, want, strict=True):
            check(result, answer, info.version)


def test_text_with_and_without_padding(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    for name in manifests:
        info = manifests[name]
        if info.input.kind != pb.DATA_KIND_TEXT:
            continue
        example = info.input.format.example
        reply = stub.Predict(
            pb.PredictRequest(
                model=name,
                inputs=[
                    pb.Input(text=example),
                    pb.Input(text=codecs.pad_text(info.input, example)),
                ],
            )
        )
        first, second = reply.results
        assert first.text == second.text
        assert first.text == first.text.strip() and first.text


def test_named_version_is_served(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    name, info = next(iter(manifests.items()))
    reply = stub.GetModel(pb.GetModelRequest(name=name, version=info.version))
    assert reply.ready and reply.info == info
    assert list(reply.versions)[-1] == info.version


def test_reverse_predict_and_stream_agree(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    names = kind_models(manifests, pb.SERVING_KIND_SEQ2SEQ)
    assert names, "no seq2seq model exported"
    for name in names:
        info = manifests[name]
        inputs = [codecs.to_message(i) for i in fresh_inputs(info, 16, seed=7)]
        request = pb.PredictRequest(model=name, inputs=inputs)
        unary = stub.Predict(request)
        events = list(stub.PredictStream(request))
        symbols = [e.symbol for e in events if e.WhichOneof("event") == "symbol"]
        finals = [e.result for e in events if e.WhichOneof("event") == "result"]
        assert events[-1].WhichOneof("event") == "result" and len(finals) == 1
        assert finals[0] == unary
        assert len(symbols) == len(inputs) * info.decode.steps
        streamed: dict[int, list[int]] = {}
        for s in symbols:
            assert s.position == len(streamed.setdefault(s.item, []))
            streamed[s.item].append(s.symbol)
        assert [streamed[k] for k in range(len(inputs))] == [
            list(r.ints.values) for r in unary.results
        ]


def test_stream_of_a_single_graph_model_sends_only_the_result(
    stub: pb_grpc.SeqServeStub, manifests: dict
) -> None:
    name = kind_models(manifests, pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_TAG)[0]
    info = manifests[name]
    request = pb.PredictRequest(
        model=name, inputs=[ints(*[info.input.min_value] * info.input.length)]
    )
    events = list(stub.PredictStream(request))
    assert [e.WhichOneof("event") for e in events] == ["result"]
    assert events[0].result == stub.Predict(request)
