"""Triton's per-request `timeout` parameter against the call's own deadline."""

from __future__ import annotations

import pytest

from seqserve.server.api.kserve.infer import time_budget
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput


def request(**param: int | str) -> kpb.ModelInferRequest:
    out = kpb.ModelInferRequest()
    for kind, value in param.items():
        setattr(out.parameters["timeout"], kind, value)
    return out


def test_sooner_of_timeout_and_deadline() -> None:
    assert time_budget(request(), 2.0) == 2.0
    assert time_budget(request(), None) is None
    assert time_budget(request(int64_param=500_000), 2.0) == 0.5
    assert time_budget(request(uint64_param=5_000_000), 2.0) == 2.0
    assert time_budget(request(int64_param=250_000), None) == 0.25
    assert time_budget(request(int64_param=0), 3.0) == 3.0


@pytest.mark.parametrize("param", [{"int64_param": -1}, {"string_param": "1s"}])
def test_bad_timeout(param: dict[str, int | str]) -> None:
    with pytest.raises(InvalidInput, match="timeout must be microseconds"):
        time_budget(request(**param), None)
