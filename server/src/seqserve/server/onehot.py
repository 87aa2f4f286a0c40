"""One-hot graph inputs written into a reused buffer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from seqserve.server.results import Floats


class OneHot:
    """Writes symbol batches as one-hot rows into a reused buffer (one owner thread)."""

    def __init__(self, shape: tuple[int, ...], capacity: int) -> None:
        self._buffer = np.zeros((capacity, *shape), dtype=np.float32)
        self._shape = shape

    def __call__(self, symbols: npt.NDArray[np.int64]) -> Floats:
        n = symbols.shape[0]
        if n > self._buffer.shape[0]:
            self._buffer = np.zeros((n, *self._shape), dtype=np.float32)
        out = self._buffer[:n]
        out.fill(0.0)
        if symbols.ndim == 1:
            out[np.arange(n), symbols] = 1.0
        else:
            rows = np.arange(n)[:, None]
            cols = np.arange(symbols.shape[1])[None, :]
            out[rows, cols, symbols] = 1.0
        return out
