"""Protocol front-ends, side by side (`v1/`, `kserve/`), and the gRPC plumbing they share.

A front-end converts wire messages to values, calls `InferenceCore`, and converts the answer
back; admission, validation and deadlines live in the core.
"""
