"""What this server is: its version and the runtime under it, in one place.

`seqserve-server --version`, the KServe `ServerMetadata` answer and the
`seqserve_build_info` metric all read `build()`.
"""

from __future__ import annotations

import platform

from seqserve.server import __version__


def build(device: str) -> dict[str, str]:
    """version, python, onnxruntime, grpc and the device setting (as `seqserve_build_info`)."""
    import grpc
    import onnxruntime

    return {
        "version": __version__,
        "python": platform.python_version(),
        "onnxruntime": str(onnxruntime.__version__),
        "grpc": str(grpc.__version__),
        "device": device,
    }


def version_line() -> str:
    """`seqserve-server 0.1.0 (python 3.11.2, onnxruntime 1.32.0, grpc 1.85.1; devices: cpu)`:
    the devices are those onnxruntime can run on here (cuda with CUDAExecutionProvider)."""
    import onnxruntime

    info = build("")
    runtime = ", ".join(f"{key} {info[key]}" for key in ("python", "onnxruntime", "grpc"))
    cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return f"seqserve-server {info['version']} ({runtime}; devices: cpu{', cuda' if cuda else ''})"
