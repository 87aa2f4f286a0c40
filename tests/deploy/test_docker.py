"""The container build files, checked without a Docker daemon (make docker-test runs them).

The classic builder is the one available here, so the Dockerfiles use nothing newer; the
runtime image holds the pinned client + server dependencies only (never TensorFlow).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.cuda"]


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        pending += raw.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        lines.append(pending)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def last(path: Path, instruction: str) -> str:
    found = [args for name, args in instructions(path) if name == instruction]
    assert found, f"{path.name} has no {instruction}"
    return found[-1]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_classic_builder_compatible(path: Path) -> None:
    text = path.read_text()
    assert not re.match(r"\s*#\s*syntax\s*=", text, re.IGNORECASE), "no # syntax= line"
    for name, args in instructions(path):
        assert "--mount" not in args, f"RUN --mount is BuildKit-only: {name} {args}"
        assert "<<" not in args, f"heredocs are BuildKit-only: {name} {args}"
        assert not (name == "COPY" and "--chmod" in args), "COPY --chmod is BuildKit-only"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_stage(path: Path) -> None:
    user = last(path, "USER")
    assert not user.startswith(("root", "0")), "the server runs as a non-root user"
    assert last(path, "EXPOSE").split() == ["50051", "8000"]  # gRPC, HTTP
    healthcheck = last(path, "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[:2] == ["seqserve", "health"]
    assert command[command.index("--target") + 1] == "127.0.0.1:50051"
    assert json.loads(last(path, "ENTRYPOINT")) == ["seqserve-server"]
    args = json.loads(last(path, "CMD"))
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--models") + 1] == "/models"
    steps = [f"{n} {a}" for n, a in instructions(path)]
    assert "COPY models /models" in steps
    assert not any("trainer" in step for step in steps), "the trainer (TensorFlow) stays out"


def test_cpu_image_base_and_cuda_image_device() -> None:
    cpu = instructions(DOCKERFILES[0])
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in cpu
    assert [a for n, a in cpu if n == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    cuda = json.loads(last(DOCKERFILES[1], "CMD"))
    assert cuda[cuda.index("--device") + 1] == "cuda"
    assert "onnxruntime-gpu" in DOCKERFILES[1].read_text()
    assert "nvidia/cuda:" in DOCKERFILES[1].read_text()


def test_runtime_requirements_are_the_server_and_client_dependencies_all_pinned() -> None:
    """The image's dependency layer installs the client's and server's requirements.txt."""
    requirements = [
        line.strip()
        for part in ("client", "server")
        for line in (ROOT / part / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}
    assert {"grpcio", "protobuf", "onnxruntime", "numpy"} <= names
    assert not any(n.startswith("seqserve") for n in names)
    assert not any(n.startswith(("tensorflow", "tf2onnx", "keras")) for n in names)

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pins = {
        norm(line.split("==")[0])
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    unpinned = {n for n in names if norm(n) not in pins}
    assert not unpinned, f"not pinned in constraints.txt: {sorted(unpinned)}"
    for path in DOCKERFILES:
        steps = [f"{n} {a}" for n, a in instructions(path)]
        for part in ("client", "server"):
            assert f"COPY {part}/requirements.txt {part}/requirements.txt" in steps


def test_dockerignore_keeps_environments_and_generated_code_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "only what the image needs is let in"
    for kept_out in (".venv", "build", "bench", "contract/src/seqserve/v1"):
        assert kept_out in rules
    assert "!models/" in rules
    for part in ("proto", "contract", "client", "server"):
        assert f"!{part}/" in rules


@pytest.mark.parametrize("script", sorted(DOCKER.glob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse(script: Path) -> None:
    assert script.stat().st_mode & 0o111, f"{script.name} is not executable"
    subprocess.run(["bash", "-n", str(script)], check=True)
