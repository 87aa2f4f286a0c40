"""B3: an MLServer 1.7 custom runtime serving a seqserve model's ONNX graphs with onnxruntime.

The model's `parameters.uri` is the model's version folder (with `model.json`). Input: one
INT64 tensor `[B, L]` of symbols; output `y`: INT64 `[B, out]`, the greedy decode for
`reverse`, the argmax of the one graph for `addition`. Adaptive batching (`max_batch_size`,
`max_batch_time` in model-settings.json) merges concurrent requests into one `predict`.
"""

from __future__ import annotations

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

from bench.onnx_graphs import Graphs


class SeqOnnxRuntime(MLModel):
    async def load(self) -> bool:
        assert self.settings.parameters is not None and self.settings.parameters.uri
        self._graphs = Graphs(self.settings.parameters.uri, threads=1)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0]).astype(np.int64, copy=False)
        y = self._graphs.predict(x.reshape(-1, self._graphs.in_len))
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", y)])
