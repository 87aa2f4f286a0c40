"""recall through the sequence extension: the same steps as a seqserve.v1 Session."""

from __future__ import annotations

import numpy as np
import tritonclient.grpc as triton

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

Client = triton.InferenceServerClient
PATTERN = [3, 0, 1, 2, 3]


def symbol(value: int) -> triton.InferInput:
    tensor = triton.InferInput("INPUT", [1, 1], "INT64")
    tensor.set_data_from_numpy(np.array([[value]], dtype=np.int64))
    return tensor


def v1_session(stub: pb_grpc.SeqServeStub, symbols: list[int]) -> list[pb.StepResult]:
    requests = [pb.SessionRequest(open=pb.SessionOpen(model="recall"))]
    requests += [pb.SessionRequest(step=pb.SessionStep(symbol=s)) for s in symbols]
    requests.append(pb.SessionRequest(close=pb.SessionClose()))
    replies = list(stub.Session(iter(requests), timeout=30))
    return [r.step for r in replies if r.WhichOneof("event") == "step"]


def run(client: Client, sequence_id: int | str, symbols: list[int]) -> list[triton.InferResult]:
    last = len(symbols) - 1
    return [
        client.infer(
            "recall",
            [symbol(s)],
            sequence_id=sequence_id,
            sequence_start=k == 0,
            sequence_end=k == last,
        )
        for k, s in enumerate(symbols)
    ]


def test_sequence_matches_v1_session(triton_client: Client, v1_stub: pb_grpc.SeqServeStub) -> None:
    results = run(triton_client, 1001, PATTERN[:-1])
    steps = v1_session(v1_stub, PATTERN[:-1])
    assert [r.as_numpy("OUTPUT").tolist() for r in results] == [[[s.symbol]] for s in steps]
    assert [int(r.as_numpy("OUTPUT")[0, 0]) for r in results] == PATTERN[1:]
    for result, step in zip(results, steps, strict=True):
        probabilities = result.as_numpy("PROBABILITIES")
        assert probabilities.shape == (1, 5)
        np.testing.assert_allclose(probabilities[0], step.probabilities, rtol=1e-5, atol=1e-6)
        confidence = result.as_numpy("CONFIDENCE")[0, 0]
        assert confidence == probabilities[0, step.symbol]


def test_interleaved_sequences_keep_their_own_state(triton_client: Client) -> None:
    """Two sequences (int and string ids) stepped alternately each follow their pattern."""
    a, b = [3, 0, 1, 2], [4, 0, 1, 2]
    answers: dict[str, list[int]] = {"a": [], "b": []}
    for k in range(len(a)):
        for key, seq_id, pattern in (("a", 77, a), ("b", "seq-b", b)):
            result = triton_client.infer(
                "recall",
                [symbol(pattern[k])],
                sequence_id=seq_id,
                sequence_start=k == 0,
                sequence_end=k == len(a) - 1,
            )
            answers[key].append(int(result.as_numpy("OUTPUT")[0, 0]))
    assert answers == {"a": [0, 1, 2, 3], "b": [0, 1, 2, 4]}


def test_start_again_resets(triton_client: Client) -> None:
    run(triton_client, 5, [4, 0])  # ended
    first = run(triton_client, 5, [3, 0, 1, 2])
    assert int(first[-1].as_numpy("OUTPUT")[0, 0]) == 3


def test_stream_sequence(triton_client: Client) -> None:
    import queue

    received: queue.Queue[tuple[triton.InferResult, object]] = queue.Queue()
    triton_client.start_stream(callback=lambda result, error: received.put((result, error)))
    try:
        for k, s in enumerate([4, 0, 1, 2]):
            triton_client.async_stream_infer(
                "recall", [symbol(s)], sequence_id=9, sequence_start=k == 0, sequence_end=k == 3
            )
        answers = []
        for _ in range(4):
            result, error = received.get(timeout=30)
            assert error is None
            answers.append(int(result.as_numpy("OUTPUT")[0, 0]))
    finally:
        triton_client.stop_stream()
    assert answers == [0, 1, 2, 4]
