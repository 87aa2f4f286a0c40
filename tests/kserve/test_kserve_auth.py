"""Bearer-token authentication covers the KServe service too; tritonclient sends headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton

TOKEN = "kserve-test-token"


def test_token_required_and_accepted(
    models_dir: Path, launch_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQSERVE_AUTH_TOKENS", TOKEN)
    server = launch_server(models_dir)
    client = triton.InferenceServerClient(server.target)
    try:
        with pytest.raises(triton.InferenceServerException) as raised:
            client.is_server_live()
        assert str(raised.value.status()) == "StatusCode.UNAUTHENTICATED"
        assert TOKEN not in raised.value.message()
        headers = {"authorization": f"Bearer {TOKEN}"}
        assert client.is_server_live(headers=headers)
        values = triton.InferInput("INPUT", [1, 2], "INT64")
        values.set_data_from_numpy(np.array([[20, 22]], dtype=np.int64))
        result = client.infer("sum_mlp", [values], headers=headers)
        assert result.as_numpy("ROUNDED").shape == (1, 1)
    finally:
        client.close()
