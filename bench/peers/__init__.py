"""The peer servers' own code (B3 MLServer runtime, B4 PyTriton launcher).

These modules run inside the peers' virtualenvs (bench/.venv-mlserver, bench/.venv-pytriton),
which have numpy and onnxruntime but no seqserve; they share `bench.onnx_graphs` with B0.
"""
