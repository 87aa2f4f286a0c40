"""B4: Triton Inference Server (via nvidia-pytriton) serving seqserve models' ONNX graphs.

    LD_LIBRARY_PATH=<venv python's sysconfig LIBDIR> bench/.venv-pytriton/bin/python \\
        -m bench.peers.pytriton_server --models models --names reverse,addition \\
        --grpc-port P --http-port Q --metrics-port R

One Triton model per name, dynamic batcher on; the infer function runs the same graphs and
greedy decode loop as B0 with onnxruntime. Input `x`: INT64 `[-1, L]` symbols; output `y`:
INT64 `[-1, out]`. SIGTERM becomes KeyboardInterrupt so the `with Triton()` block exits and
stops tritonserver; the benchmark kills the process group after a timeout regardless.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from pathlib import Path

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

from bench.onnx_graphs import Graphs, model_folder


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _infer_fn(graphs: Graphs):
    @batch
    def infer(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"y": graphs.predict(x.astype(np.int64, copy=False))}

    return infer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--names", default="reverse,addition")
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-queue-delay-us", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    config = TritonConfig(
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        log_verbose=0,
    )
    # no token on statistics and the rest: perf_analyzer reads ModelStatistics (loopback only)
    security = TritonSecurityConfig(restricted_endpoints=[])
    with Triton(config=config, security_config=security) as triton:
        for name in args.names.split(","):
            graphs = Graphs(model_folder(args.models, name), threads=1)
            triton.bind(
                model_name=name,
                infer_func=_infer_fn(graphs),
                inputs=[Tensor(name="x", dtype=np.int64, shape=(graphs.in_len,))],
                outputs=[Tensor(name="y", dtype=np.int64, shape=(-1,))],
                config=ModelConfig(
                    max_batch_size=args.max_batch_size,
                    batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
                ),
                strict=False,
            )
        with contextlib.suppress(KeyboardInterrupt):  # SIGTERM: leave the block, stop Triton
            triton.serve()


if __name__ == "__main__":
    main()
