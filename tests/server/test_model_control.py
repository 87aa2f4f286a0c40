"""Model control: --model-control explicit, load and unload through the CLI, the client,
KServe (tritonclient) and admin tokens; a copied version folder serves as its folder's version.

Each server here runs on a repository of its own (copies of exported versions).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from seqserve.client import Client, ModelNotFound, ModelNotReady

CLI = str(Path(sys.executable).with_name("seqserve"))
ADMIN, USER = "admin-token-0123456789", "user-token-0123456789"


def seqserve(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--target", target, *args], capture_output=True, text=True, timeout=120
    )


def newest(models_dir: Path, name: str) -> Path:
    return max(
        (p for p in (models_dir / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )


def states(client: Client) -> dict[tuple[str, int], tuple[str, str]]:
    return {(v.model, v.version): (v.state, v.reason) for v in client.repository()}


@pytest.fixture(scope="module")
def repo(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("control-models")
    for name in ("addition", "recall"):
        shutil.copytree(newest(models_dir, name), root / name / "1")
    return root


@pytest.fixture(scope="module")
def explicit(repo: Path, launch_server: Callable[..., Any]) -> Iterator[str]:
    server = launch_server(repo, "--model-control", "explicit", "--load-model", "addition")
    yield server.target
    server.stop()


def test_explicit_loads_only_what_is_asked(explicit: str, repo: Path) -> None:
    listed = seqserve(explicit, "models")
    assert listed.returncode == 0 and "addition" in listed.stdout
    assert "recall" not in listed.stdout
    every = seqserve(explicit, "models", "--all")
    assert every.returncode == 0, every.stderr
    rows = [line.split(None, 3) for line in every.stdout.splitlines()[1:]]
    assert rows[0][:3] == ["addition", "1", "READY"]
    assert rows[1] == ["recall", "1", "UNAVAILABLE", "not loaded; ModelControl.Load or "
                       "RepositoryModelLoad loads it"]  # fmt: skip

    loaded = seqserve(explicit, "load", "recall")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[1].split() == ["recall", "1", "READY"]
    stepped = seqserve(explicit, "session", "recall", "3", "0", "1", "2")
    assert (stepped.returncode, stepped.stdout) == (0, "0\n1\n2\n3\n"), stepped.stderr


def test_a_copied_version_folder_serves_as_the_new_version(explicit: str, repo: Path) -> None:
    shutil.copytree(repo / "addition" / "1", repo / "addition" / "2")
    with Client(explicit) as client:
        assert [(v.version, v.state) for v in client.load("addition")] == [
            (2, "READY"),
            (1, "READY"),
        ]
        model = client.info("addition")
        assert (model.version, model.versions) == (2, (1, 2))
        assert client.predict("addition", "3+10", version=2).text == "13"
        assert client.info("addition", version=2).info.version == 2
        unloaded = client.unload("addition", version=1)
        assert [(v.version, v.state) for v in unloaded] == [(1, "UNAVAILABLE")]
        assert states(client)[("addition", 1)] == ("UNAVAILABLE", "unloaded")
        assert client.info("addition").versions == (2,)


def test_unload_waits_for_open_sessions(explicit: str) -> None:
    with Client(explicit) as client:
        client.load("recall")
        with client.session("recall") as held:
            assert held.step(3).symbol == 0
            unloading = subprocess.Popen(
                [CLI, "--target", explicit, "unload", "recall"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 60
                while states(client).get(("recall", 1), ("",))[0] != "UNLOADING":
                    assert unloading.poll() is None, unloading.communicate()
                    assert time.monotonic() < deadline, states(client)
                    time.sleep(0.05)
                with pytest.raises(ModelNotFound):
                    client.info("recall")  # new calls: NOT_FOUND at once
                assert held.step(0).symbol == 1  # the open session finishes on it
                assert unloading.poll() is None  # still waiting for the session
            except BaseException:
                unloading.kill()
                raise
        out, err = unloading.communicate(timeout=60)
        assert unloading.returncode == 0, err
        assert out.splitlines()[1].split() == ["recall", "1", "UNAVAILABLE", "unloaded"]
        assert states(client)[("recall", 1)] == ("UNAVAILABLE", "unloaded")


def test_unknown_model_and_version(explicit: str) -> None:
    done = seqserve(explicit, "load", "nope")
    assert done.returncode == 4
    assert done.stderr.startswith("seqserve: error: model 'nope' not found; models: addition")
    done = seqserve(explicit, "load", "addition", "--version", "9")
    assert done.returncode == 4 and "has no version 9" in done.stderr


def test_kserve_repository_load_and_unload(explicit: str) -> None:
    client = triton.InferenceServerClient(explicit)
    try:
        client.load_model("recall")
        assert client.is_model_ready("recall")
        index = {(m.name, m.version): (m.state, m.reason) for m in
                 client.get_model_repository_index().models}  # fmt: skip
        assert index[("recall", "1")] == ("READY", "")
        client.unload_model("recall")
        assert not client.is_model_ready("recall")
        index = {(m.name, m.version): (m.state, m.reason) for m in
                 client.get_model_repository_index().models}  # fmt: skip
        assert index[("recall", "1")] == ("UNAVAILABLE", "unloaded")
        with pytest.raises(InferenceServerException) as raised:
            client.load_model("recall", config='{"max_batch_size": 8}')
        assert "parameters config are not supported" in str(raised.value)
    finally:
        client.close()


def test_control_is_refused_unless_explicit(server_target: str) -> None:
    done = seqserve(server_target, "load", "addition")
    assert done.returncode == 6
    assert done.stderr == (
        "seqserve: error: model control is 'none': models load from the repository as it "
        "changes; start the server with --model-control explicit to load and unload them on "
        "request\n"
    )
    with Client(server_target) as client, pytest.raises(ModelNotReady):
        client.unload("addition")
    assert seqserve(server_target, "models", "--all").returncode == 0


def test_admin_token(repo: Path, launch_server: Callable[..., Any], tmp_path: Path) -> None:
    admin_file = tmp_path / "admin-tokens"
    admin_file.write_text(f"# who may load and unload\n{ADMIN}\n")
    server = launch_server(
        repo, "--model-control", "explicit", "--load-model", "addition",
        "--auth-tokens", USER, "--admin-tokens-file", str(admin_file),
    )  # fmt: skip
    try:
        user = seqserve(server.target, "--token", USER, "load", "recall")
        assert user.returncode == 11
        assert user.stderr == (
            "seqserve: error: loading and unloading models needs an admin token "
            "(--admin-tokens-file)\n"
        )
        nobody = seqserve(server.target, "load", "recall")
        assert nobody.returncode == 10
        admin = seqserve(server.target, "--token", ADMIN, "load", "recall")
        assert admin.returncode == 0, admin.stderr
        listed = seqserve(server.target, "--token", USER, "models", "--all")
        assert listed.returncode == 0 and "recall" in listed.stdout
        predicted = seqserve(server.target, "--token", ADMIN, "predict", "addition", "3+10")
        assert (predicted.returncode, predicted.stdout) == (0, "13\n")
    finally:
        server.stop()


def test_load_model_must_exist(repo: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--models", str(repo), "--port", "0",
         "--model-control", "explicit", "--load-model", "additon"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3
    assert "--load-model additon: not in" in done.stderr + done.stdout


def test_load_model_needs_explicit(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--models", str(repo), "--load-model", "x"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "--load-model needs --model-control explicit" in done.stderr
