"""seqserve-client installs on its own: grpcio and protobuf, and nothing heavy."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "onnxruntime", "tensorflow", "tensorflow-cpu", "keras", "torch")


def test_client_installs_into_a_fresh_venv_without_heavy_packages(
    tmp_path: Path, server_target: str
) -> None:
    started = time.monotonic()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(REPO / "constraints.txt"), str(REPO / "client")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    installed = {line.split("==")[0].lower() for line in listed.stdout.split()}
    assert {"seqserve-client", "grpcio", "protobuf"} <= installed
    assert not installed & set(HEAVY), installed

    # The installed CLI answers from the real server; the library imports nothing heavy.
    answer = subprocess.run(
        [str(venv / "bin" / "seqserve"), "--target", server_target, "predict", "addition", "3+10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (answer.returncode, answer.stdout) == (0, "13\n"), answer.stderr
    probe = "import sys, seqserve.client, seqserve.client.cli; print(sorted(sys.modules))"
    modules = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert not any(f"'{name}'" in modules for name in ("numpy", "onnxruntime", "tensorflow"))
    assert time.monotonic() - started < 60
