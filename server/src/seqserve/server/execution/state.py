"""Where the seq2seq decode worker keeps its sequences' recurrent state between decoder steps.

The state is the tensors the encoder returns and the step decoder takes and returns after
the fed symbol (an LSTM's `h` and `c`, a GRU's one hidden state, ...), each
`[-1, decode.state_size]`.

Both stores hold one row of state per slot of the scheduler (`max_active_sequences` rows)
and give the same symbols; they differ in where the rows live.

- `HostState` (`--decode-state host`, and `auto` on the CPU): NumPy arrays in host
  memory. A step feeds the active rows (a view when their slots are consecutive, else a
  gathered copy) and writes the new state back into them.
- `DeviceState` (`--decode-state device`, and `auto` when the decoder runs on CUDA): two
  buffers per state tensor on the execution device, one read and one written by each
  step, then swapped. The decoder's state inputs and outputs are bound to row ranges of
  them with onnxruntime I/O binding, so between steps the state never leaves the device:
  only the one-hot symbols go in and the probabilities come out.

  A step runs over the span of rows from the lowest to the highest active slot. The
  scheduler hands out the lowest free slot, so the span is usually exactly the active
  rows; rows of free slots inside it are computed and ignored. The encoder writes the
  newcomers' state straight into their rows when their slots are consecutive, else
  through one host round trip of the read buffers.

On the CPU execution provider the device store is correct but slower than the host one
(binding costs more than it saves when device memory is host memory); the tests run it
there (`tests/server/execution/test_decode_state.py`) against the host store.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from seqserve.server.onehot import OneHot
from seqserve.server.results import Floats
from seqserve.server.runtime import CUDA
from seqserve.server.settings import DecodeState
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)

Ints = npt.NDArray[np.int64]
_F32 = np.dtype(np.float32)


class StateStore(Protocol):
    """The decoder state of every slot, and the two graph calls that read and write it."""

    def encode(self, slots: Ints, sources: Floats) -> None:
        """Run the encoder on one-hot `sources`; its state becomes the rows of `slots`."""

    def step(self, slots: Ints, symbols: Ints, packed: slice | None) -> Floats:
        """One decoder step of the sequences in `slots` (ascending), fed `symbols`; their
        probabilities, one row per slot. `packed`: the slots as a slice, when consecutive."""


class DecodeGraphs:
    """The tensor names of a seq2seq model's encoder and step decoder, from its manifest."""

    def __init__(self, info: pb.ModelInfo) -> None:
        by_role = {g.role: g for g in info.graphs}
        enc, dec = by_role[pb.GRAPH_ROLE_ENCODER], by_role[pb.GRAPH_ROLE_DECODER_STEP]
        self.source = enc.inputs[0].name
        self.source_shape = tuple(int(d) for d in enc.inputs[0].shape[1:])  # one-hot
        self.encoded = [t.name for t in enc.outputs]  # the state, e.g. h, c
        self.symbol, *self.state_in = [t.name for t in dec.inputs]  # symbol, the state
        self.probs, *self.state_out = [t.name for t in dec.outputs]  # probs, the new state
        self.vocabulary = int(dec.inputs[0].shape[1])
        self.size = int(info.decode.state_size)


class HostState:
    def __init__(self, info: pb.ModelInfo, encoder: Any, decoder: Any, rows: int) -> None:
        self._names = DecodeGraphs(info)
        self._encoder, self._decoder = encoder, decoder
        size = self._names.size
        self._state = [np.zeros((rows, size), dtype=np.float32) for _ in self._names.encoded]
        self._onehot = OneHot((self._names.vocabulary,), rows)

    def encode(self, slots: Ints, sources: Floats) -> None:
        encoded = self._encoder.run(self._names.encoded, {self._names.source: sources})
        for store, value in zip(self._state, encoded, strict=True):
            store[slots] = value

    def step(self, slots: Ints, symbols: Ints, packed: slice | None) -> Floats:
        rows = packed if packed is not None else slots  # a slice: views, no gather copy
        names = self._names
        feeds = {names.symbol: self._onehot(symbols)}
        feeds.update(zip(names.state_in, (store[rows] for store in self._state), strict=True))
        probs, *state = self._decoder.run([names.probs, *names.state_out], feeds)
        for store, value in zip(self._state, state, strict=True):
            store[rows] = value
        return probs  # type: ignore[no-any-return]


class DeviceState:
    def __init__(
        self,
        info: pb.ModelInfo,
        encoder: ort.InferenceSession,
        decoder: ort.InferenceSession,
        rows: int,
        device: str,
        device_id: int = 0,
    ) -> None:
        self._names = DecodeGraphs(info)
        self._encoder, self._decoder = encoder, decoder
        self._device, self._device_id = device, device_id
        size = self._names.size
        self._row_bytes = size * _F32.itemsize
        zeros = np.zeros((rows, size), dtype=np.float32)

        def buffer() -> ort.OrtValue:
            value = ort.OrtValue.ortvalue_from_shape_and_type(
                (rows, size), np.float32, device, device_id
            )
            value.update_inplace(zeros)  # free rows inside a span are computed: no garbage
            return value

        # the state read by the next step, and the state it writes; swapped after each step
        self._read = [buffer() for _ in self._names.encoded]
        self._write = [buffer() for _ in self._names.encoded]
        self._probs = np.empty((rows, self._names.vocabulary), dtype=np.float32)
        self._encoded = [np.empty((rows, size), dtype=np.float32) for _ in self._names.encoded]
        self._encoder_io = encoder.io_binding()
        self._decoder_io = decoder.io_binding()

    def encode(self, slots: Ints, sources: Floats) -> None:
        names, io = self._names, self._encoder_io
        io.bind_cpu_input(names.source, sources)
        n, first = len(slots), int(slots[0])
        consecutive = int(slots[-1]) - first + 1 == n
        for name, value, host in zip(names.encoded, self._read, self._encoded, strict=True):
            if consecutive:  # straight into the rows
                self._bind(io.bind_output, name, value, first, n)
            else:  # to the host, then scattered below
                io.bind_output(name, "cpu", 0, _F32, (n, names.size), host.ctypes.data)
        self._encoder.run_with_iobinding(io)
        if not consecutive:
            for value, host in zip(self._read, self._encoded, strict=True):
                rows = value.numpy()  # a copy of the whole buffer
                rows[slots] = host[:n]
                value.update_inplace(rows)

    def step(self, slots: Ints, symbols: Ints, packed: slice | None) -> Floats:
        names, io = self._names, self._decoder_io
        first = int(slots[0])
        span = int(slots[-1]) - first + 1
        at = slots - first
        x = np.zeros((span, names.vocabulary), dtype=np.float32)
        x[at, symbols] = 1.0
        io.bind_cpu_input(names.symbol, x)
        for name, value in zip(names.state_in, self._read, strict=True):
            self._bind(io.bind_input, name, value, first, span)
        for name, value in zip(names.state_out, self._write, strict=True):
            self._bind(io.bind_output, name, value, first, span)
        probs = self._probs[:span]
        io.bind_output(names.probs, "cpu", 0, _F32, probs.shape, probs.ctypes.data)
        self._decoder.run_with_iobinding(io)
        self._read, self._write = self._write, self._read
        return probs if span == len(slots) else probs[at]

    def _bind(self, bind: Any, name: str, value: ort.OrtValue, first: int, rows: int) -> None:
        """Bind `name` to `rows` rows of `value` from row `first` (row-major: one range)."""
        pointer = value.data_ptr() + first * self._row_bytes
        bind(name, self._device, self._device_id, _F32, (rows, self._names.size), pointer)


def decode_state(
    info: pb.ModelInfo, encoder: Any, decoder: Any, rows: int, where: DecodeState
) -> StateStore:
    """The decode worker's state store: on the decoder's device when asked, or by default
    when that device is CUDA."""
    device = "cuda" if decoder.get_providers()[0] == CUDA else "cpu"
    if where is DecodeState.DEVICE or (where is DecodeState.AUTO and device == "cuda"):
        log.info("%s: decoder state kept on the %s device (I/O binding)", info.name, device)
        return DeviceState(info, encoder, decoder, rows, device)
    return HostState(info, encoder, decoder, rows)
