"""The systems under test: how to start each server, check it is ready, and what to send it.

seqserve-protocol systems (E, seqserve, B1) get `seqserve.v1` requests; the peers (B3
MLServer, B4 Triton) get KServe v2 `ModelInferRequest`s carrying the same symbols as one
INT64 tensor (text already turned into symbol indices: the peers get less work, not more).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench.loadgen import CHANNEL_OPTIONS, Load
from bench.procs import Server, free_port
from seqserve.v1 import seqserve_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
PREDICT = "/seqserve.v1.SeqServe/Predict"
SESSION = "/seqserve.v1.SeqServe/Session"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
VARIANTS = 16  # distinct pre-built requests per scenario, sent round-robin


@dataclass(frozen=True)
class Scenario:
    name: str  # reverse, addition, recall, reverse_bulk64
    model: str
    session: bool = False
    per_request: int = 1


SCENARIOS = {
    "reverse": Scenario("reverse", "reverse"),
    "addition": Scenario("addition", "addition"),
    "recall": Scenario("recall", "recall", session=True),
    "reverse_bulk64": Scenario("reverse_bulk64", "reverse", per_request=64),
}


def reverse_sources(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(1, 51, size=(n, 6), dtype=np.int64)


def addition_texts(n: int, rng: np.random.Generator) -> list[str]:
    a, b = rng.integers(1, 11, size=(2, n))
    return [f"{x}+{y}" for x, y in zip(a, b, strict=True)]


ADDITION_ALPHABET = "0123456789+ "


def text_symbols(text: str, length: int = 5) -> list[int]:
    return [ADDITION_ALPHABET.index(ch) for ch in text.rjust(length)]


# ------------------------------------------------------------------ seqserve protocol


def seqserve_load(target: str, scenario: Scenario) -> Load:
    rng = np.random.default_rng(7)
    if scenario.session:
        steps = [
            pb.SessionRequest(step=pb.SessionStep(symbol=s)).SerializeToString()
            for s in (3, 0, 1, 2, 3, 4, 0, 1, 2, 4)
        ]
        opening = pb.SessionRequest(open=pb.SessionOpen(model=scenario.model))
        return Load(target, SESSION, steps, session_open=opening.SerializeToString())
    payloads = []
    for _ in range(VARIANTS):
        if scenario.model == "addition":
            inputs = [pb.Input(text=t) for t in addition_texts(scenario.per_request, rng)]
        else:
            srcs = reverse_sources(scenario.per_request, rng)
            inputs = [pb.Input(ints=pb.Ints(values=s.tolist())) for s in srcs]
        request = pb.PredictRequest(model=scenario.model, inputs=inputs)
        payloads.append(request.SerializeToString())
    return Load(target, PREDICT, payloads, per_request=scenario.per_request)


async def seqserve_check(target: str, scenario: Scenario) -> str:
    """One parsed call: fails loudly if the answer is not the right shape; returns a sample."""
    load = seqserve_load(target, scenario)
    async with grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        if scenario.session:
            call = channel.stream_stream(
                SESSION, pb.SessionRequest.SerializeToString, pb.SessionResponse.FromString
            )()
            await call.write(pb.SessionRequest.FromString(load.session_open or b""))
            opened = await call.read()
            symbols = []
            for raw in load.payloads[:5]:
                await call.write(pb.SessionRequest.FromString(raw))
                symbols.append((await call.read()).step.symbol)
            await call.done_writing()
            assert opened.HasField("opened"), opened
            return f"recall 3,0,1,2 -> {symbols[:4]}"
        stub = channel.unary_unary(
            PREDICT, pb.PredictRequest.SerializeToString, pb.PredictResponse.FromString
        )
        request = pb.PredictRequest.FromString(load.payloads[0])
        response = await stub(request, timeout=30)
        assert len(response.results) == len(request.inputs), response
        first_in = request.inputs[0]
        shown_in = first_in.text or list(first_in.ints.values)
        out = response.results[0]
        shown_out = out.text or list(out.ints.values)
        return f"{scenario.model} {shown_in} -> {shown_out}"


async def wait_seqserve(target: str, models: list[str], server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "not reachable"
    async with grpc.aio.insecure_channel(target) as channel:
        get = channel.unary_unary(
            "/seqserve.v1.SeqServe/GetModel",
            pb.GetModelRequest.SerializeToString,
            pb.ModelStatus.FromString,
        )
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"{server.name} exited at start:\n{server.tail()}")
            try:
                await asyncio.wait_for(channel.channel_ready(), 1.0)
                states = [await get(pb.GetModelRequest(name=m), timeout=2) for m in models]
                if all(s.ready for s in states):
                    return
                last = "; ".join(f"{m}: {s.reason}" for m, s in zip(models, states, strict=True))
            except grpc.aio.AioRpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            except TimeoutError:
                last = "not listening yet"
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s ({last}):\n{server.tail()}")


def seqserve_server(name: str, models: Path, logs: Path, extra: list[str]) -> tuple[Server, str]:
    port = free_port()
    exe = str(Path(sys.executable).parent / "seqserve-server")
    cmd = [exe, "--models", str(models), "--port", str(port), "--log-level", "WARNING", *extra]
    http_port = free_port()  # several servers run side by side
    cmd += ["--http-port", str(http_port)]
    server = Server(name, cmd, logs / f"{name}.log")
    server.http = f"127.0.0.1:{http_port}"
    return server, f"127.0.0.1:{port}"


def echo_server(logs: Path) -> tuple[Server, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.echo_server", "--port", str(port)]
    env = {"PYTHONPATH": str(ROOT)}
    return Server("E", cmd, logs / "E.log", env), f"127.0.0.1:{port}"


# ------------------------------------------------------------------ KServe v2 peers


def kserve_module(out: Path) -> object:
    """The Open Inference Protocol messages: the project's own KServe v2 stubs (`make proto`).

    `out` is kept for the callers; nothing is generated here any more.
    """
    from seqserve.kserve.v2 import grpc_service_pb2

    return grpc_service_pb2


def kserve_request(oip: object, model: str, symbols: np.ndarray, name: str = "x") -> bytes:
    req = oip.ModelInferRequest(model_name=model)  # type: ignore[attr-defined]
    tensor = req.inputs.add()
    tensor.name, tensor.datatype = name, "INT64"
    tensor.shape.extend(symbols.shape)
    req.raw_input_contents.append(np.ascontiguousarray(symbols, dtype="<i8").tobytes())
    return bytes(req.SerializeToString())


def kserve_text_request(oip: object, model: str, texts: list[str]) -> bytes:
    """seqserve's text input: INPUT BYTES [n, 1], raw (4-byte length, then the bytes)."""
    req = oip.ModelInferRequest(model_name=model)  # type: ignore[attr-defined]
    tensor = req.inputs.add()
    tensor.name, tensor.datatype = "INPUT", "BYTES"
    tensor.shape.extend([len(texts), 1])
    raw = b"".join(len(t).to_bytes(4, "little") + t.encode() for t in texts)
    req.raw_input_contents.append(raw)
    return bytes(req.SerializeToString())


def kserve_load(oip: object, target: str, scenario: Scenario, seqserve: bool = False) -> Load:
    """KServe requests; `seqserve`: as seqserve publishes its tensors (INPUT; text as BYTES),
    else as the peers take them (`x`, symbols as INT64)."""
    rng = np.random.default_rng(7)
    payloads = []
    for _ in range(VARIANTS):
        if scenario.model == "addition":
            texts = addition_texts(scenario.per_request, rng)
            if seqserve:
                payloads.append(kserve_text_request(oip, scenario.model, texts))
                continue
            symbols = np.array([text_symbols(t) for t in texts], dtype=np.int64)
        else:
            symbols = reverse_sources(scenario.per_request, rng)
        name = "INPUT" if seqserve else "x"
        payloads.append(kserve_request(oip, scenario.model, symbols, name))
    return Load(target, MODEL_INFER, payloads, per_request=scenario.per_request)


async def kserve_check(oip: object, target: str, scenario: Scenario, seqserve: bool = False) -> str:
    load = kserve_load(oip, target, scenario, seqserve)
    async with grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        infer = channel.unary_unary(MODEL_INFER, None, oip.ModelInferResponse.FromString)  # type: ignore[attr-defined]
        response = await infer(load.payloads[0], timeout=30)
    request = oip.ModelInferRequest.FromString(load.payloads[0])  # type: ignore[attr-defined]
    if request.inputs[0].datatype == "BYTES":  # seqserve's text: show the answer's rows
        out = response.outputs[0]
        assert out.shape[0] == request.inputs[0].shape[0], (out.shape, request.inputs[0].shape)
        raw = response.raw_output_contents[0]
        return f"{scenario.model} (BYTES) -> {raw[4 : 4 + int.from_bytes(raw[:4], 'little')]!r}"
    x = np.frombuffer(request.raw_input_contents[0], dtype="<i8").reshape(
        list(request.inputs[0].shape)
    )
    out = response.outputs[0]
    if response.raw_output_contents:
        y = np.frombuffer(response.raw_output_contents[0], dtype="<i8")
    else:
        y = np.array(out.contents.int64_contents, dtype=np.int64)
    y = y.reshape(list(out.shape))
    assert y.shape[0] == x.shape[0], (x.shape, y.shape)
    return f"{scenario.model} {x[0].tolist()} -> {y[0].tolist()}"


async def wait_kserve(
    oip: object, target: str, models: list[str], server: Server, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = "not reachable"
    async with grpc.aio.insecure_channel(target) as channel:
        ready = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelReady",
            oip.ModelReadyRequest.SerializeToString,  # type: ignore[attr-defined]
            oip.ModelReadyResponse.FromString,  # type: ignore[attr-defined]
        )
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"{server.name} exited at start:\n{server.tail()}")
            try:
                states = [await ready(oip.ModelReadyRequest(name=m), timeout=2) for m in models]  # type: ignore[attr-defined]
                if all(s.ready for s in states):
                    return
                last = "models loading"
            except grpc.aio.AioRpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s ({last}):\n{server.tail()}")


def venv_python(name: str) -> Path:
    return ROOT / "bench" / f".venv-{name}" / "bin" / "python"


def venv_ready(name: str) -> str | None:
    """None when the peer's virtualenv is installed, else why not."""
    stamp = ROOT / "bench" / f".venv-{name}" / ".installed"
    if stamp.exists():
        return None
    log = ROOT / "bench" / f".venv-{name}" / "install.log"
    why = log.read_text(errors="replace")[-800:] if log.exists() else "never installed"
    return f"bench/.venv-{name} is not installed (run bench/setup.sh): {why}"


def mlserver_server(
    models: Path, names: list[str], work: Path, logs: Path, batch: int, delay_s: float
) -> tuple[Server, str]:
    """MLServer 1.7 with one model per name, adaptive batching on, parallel_workers 0."""
    grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
    repo = work / "mlserver"
    repo.mkdir(parents=True, exist_ok=True)
    settings = {
        "debug": False,
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "grpc_port": grpc_port,
        "http_port": http_port,
        "metrics_port": metrics_port,
        "load_models_at_startup": True,
        "gzip_enabled": False,
    }
    (repo / "settings.json").write_text(json.dumps(settings, indent=2))
    from bench.onnx_graphs import model_folder

    for name in names:
        folder = repo / name
        folder.mkdir(exist_ok=True)
        model_settings = {
            "name": name,
            "implementation": "bench.peers.mlserver_runtime.SeqOnnxRuntime",
            "max_batch_size": batch,
            "max_batch_time": delay_s,
            "parameters": {"uri": str(model_folder(models, name).resolve())},
        }
        (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    cmd = [str(venv_python("mlserver")), "-m", "mlserver.cli.main", "start", str(repo)]
    env = {"PYTHONPATH": str(ROOT)}
    return Server("B3", cmd, logs / "B3-mlserver.log", env), f"127.0.0.1:{grpc_port}"


def pytriton_server(
    models: Path, names: list[str], logs: Path, batch: int, delay_us: int
) -> tuple[Server, str]:
    """PyTriton (tritonserver 2.51) with LD_LIBRARY_PATH set to the venv interpreter's LIBDIR."""
    python = venv_python("pytriton")
    libdir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
    cmd = [
        str(python),
        "-m",
        "bench.peers.pytriton_server",
        "--models",
        str(models.resolve()),
        "--names",
        ",".join(names),
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--max-batch-size",
        str(batch),
        "--max-queue-delay-us",
        str(delay_us),
    ]
    env = {"PYTHONPATH": str(ROOT), "LD_LIBRARY_PATH": libdir}
    server = Server("B4", cmd, logs / "B4-pytriton.log", env)
    server.http = f"127.0.0.1:{http_port}"  # Triton's KServe REST
    return server, f"127.0.0.1:{grpc_port}"
