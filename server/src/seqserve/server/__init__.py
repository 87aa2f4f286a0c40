"""seqserve-server: ONNX sequence models served over gRPC with onnxruntime.

Packages: `settings` (configuration), `errors` (domain errors), `runtime` (onnxruntime
sessions), `repository` (model loading and checks), `validation` (edge checks),
`scheduler` (continuous batching, pure Python), `batcher` (dynamic batching),
`engines` (one per serving kind), `sessions` (stateful sessions), `core` (the engine API
that protocol front-ends call), `grpc` (the seqserve.v1 front-end, health, reflection).
"""

__version__ = "0.1.0"
