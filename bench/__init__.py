"""seqserve's benchmark harness: `make bench` (every system) and `make bench-quick` (CI).

Run from the repository root as `python -m bench`; see `bench/__main__.py`.
"""
