"""Hot reload under load: a new version switches new requests, a corrupted one is refused,
vanished files keep serving from memory; in-flight calls and sessions never fail."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seqserve.client import Client, ModelNotFound

from .conftest import newest, place_version, private_repo
from .workload import BackgroundLoad

if TYPE_CHECKING:
    from conftest import RunningServer


class Load(BackgroundLoad):
    """Threads sending Predict without pause; counts answers by version and any failure."""

    join_seconds = 30.0

    def __init__(self, target: str, x: str, expected: str, threads: int = 4) -> None:
        self.versions: Counter[int] = Counter()
        self.failures: list[str] = []
        self.after: dict[int, float] = {}  # version -> first time it answered
        self._target, self._x, self._expected = target, x, expected
        super().__init__(threads)

    def _run(self, index: int) -> None:
        x, expected = self._x, self._expected
        with Client(self._target, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    answer = client.predict("addition", x)
                except Exception as exc:
                    with self._lock:
                        self.failures.append(repr(exc))
                    continue
                with self._lock:
                    self.versions[answer.version] += 1
                    self.after.setdefault(answer.version, time.monotonic())
                    if answer.text != expected:
                        self.failures.append(f"v{answer.version}: {answer.text!r} != {expected!r}")


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def addition(client: Client) -> tuple[bool, str, tuple[int, ...]]:
    model = client.info("addition")
    return model.ready, model.reason, model.versions


def corrupt(folder: Path) -> None:
    graph = folder / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))


def test_poll_reload_under_load(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = private_repo(models_dir, tmp_path / "models", ["addition", "recall"])
    server = launch_server(repo, "--poll", "0.2")
    source = newest(models_dir, "addition")
    with Client(server.target, timeout=10) as client:
        expected = client.predict("addition", "3+10").text
        assert expected is not None
        recall = client.session("recall").open()  # a session on recall version 1
        first = recall.step(1)
        with Load(server.target, "3+10", expected) as load:
            time.sleep(0.5)
            place_version(source, repo / "addition", 2)
            place_version(newest(models_dir, "recall"), repo / "recall", 2)
            wait_for(lambda: addition(client)[2] == (1, 2))
            switched = time.monotonic()
            time.sleep(0.5)
            corrupt(place_version(source, repo / "addition", 3))
            wait_for(lambda: "version 3 not ready" in addition(client)[1])
            time.sleep(0.5)
        assert load.failures == []
        assert load.versions[1] > 0 and load.versions[2] > 0, load.versions
        assert 3 not in load.versions
        assert load.after[2] <= switched + 0.5  # new requests moved to version 2 at once
        ready, reason, versions = addition(client)
        assert ready and versions == (1, 2)
        assert "version 3 not ready" in reason and "SHA-256" in reason
        assert client.predict("addition", "3+10").version == 2
        with pytest.raises(Exception, match="version 3 is not ready"):
            client.predict("addition", "3+10", version=3)
        # the open session stays on recall version 1 and keeps stepping
        assert recall.version == 1
        assert recall.step(2).steps == first.steps + 1
        recall.close()
        assert client.session("recall").open().version == 2
    assert "version 3 refused" in server.log


def test_sighup_reload_and_vanished_files(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = private_repo(models_dir, tmp_path / "models", ["addition"])
    server = launch_server(repo)  # no polling: SIGHUP only
    with Client(server.target, timeout=10) as client:
        expected = client.predict("addition", "3+10").text
        v2 = place_version(newest(models_dir, "addition"), repo / "addition", 2)
        (repo / "echo_vanilla").mkdir()  # a model that was not there at start
        place_version(newest(models_dir, "echo_vanilla"), repo / "echo_vanilla", 1)
        time.sleep(0.3)
        assert addition(client)[2] == (1,)  # nothing happens without a signal
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: addition(client)[2] == (1, 2))
        wait_for(lambda: [m.name for m in client.models()] == ["addition", "echo_vanilla"])
        assert client.predict("echo_vanilla", [1, 2, 3, 4, 5]).ints is not None
        # files vanish after load: serving continues from memory, reported after a check
        for path in v2.iterdir():
            path.unlink()
        v2.rmdir()
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "removed on disk" in addition(client)[1])
        answer = client.predict("addition", "3+10")
        assert (answer.version, answer.text) == (2, expected)
        ready, reason, versions = addition(client)
        assert ready and versions == (1, 2)
        assert "version 2 files were removed on disk after load" in reason


def worker_threads(server: RunningServer, prefix: str) -> int:
    """The server's threads whose name starts with `prefix` (a model's batching workers)."""
    return sum(name.startswith(prefix) for name in server.threads().values())


def test_keep_versions_at_start_skips_old_versions_and_refused_new_ones(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = private_repo(models_dir, tmp_path / "models", ["addition"])
    source = newest(models_dir, "addition")
    place_version(source, repo / "addition", 2)
    corrupt(place_version(source, repo / "addition", 3))
    server = launch_server(repo, "--keep-versions", "1")
    with Client(server.target, timeout=10) as client:
        ready, reason, versions = addition(client)
        assert ready and versions == (2,)  # 3 was refused, so 2 serves; 1 is not loaded
        assert "version 3 not ready" in reason
        assert client.predict("addition", "3+10").version == 2
        with pytest.raises(ModelNotFound, match="no version 1; versions: 2, 3"):
            client.predict("addition", "3+10", version=1)
    assert worker_threads(server, "batcher-additio") == 1


def test_keep_versions_unloads_a_retired_version_once_its_calls_and_sessions_end(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = private_repo(models_dir, tmp_path / "models", ["addition", "recall"])
    server = launch_server(repo, "--keep-versions", "1", "--poll", "0.2")
    with Client(server.target, timeout=10) as client:
        expected = client.predict("addition", "3+10").text
        assert expected is not None
        recall = client.session("recall").open()  # holds recall version 1
        first = recall.step(1)
        with Load(server.target, "3+10", expected) as load:
            time.sleep(0.5)
            place_version(newest(models_dir, "addition"), repo / "addition", 2)
            place_version(newest(models_dir, "recall"), repo / "recall", 2)
            wait_for(lambda: addition(client)[2] == (2,))
            time.sleep(0.5)
        assert load.failures == []  # calls in flight on version 1 finished on it
        assert load.versions[1] > 0 and load.versions[2] > 0, load.versions
        with pytest.raises(ModelNotFound, match="no version 1; versions: 2"):
            client.predict("addition", "3+10", version=1)
        wait_for(lambda: worker_threads(server, "batcher-additio") == 1)
        # the open session keeps recall version 1 loaded, and keeps stepping on it
        assert client.info("recall").versions == (2,)
        assert worker_threads(server, "batcher-recall") == 2
        assert recall.version == 1
        assert recall.step(2).steps == first.steps + 1
        recall.close()
        wait_for(lambda: worker_threads(server, "batcher-recall") == 1)
        assert client.session("recall").open().version == 2
    assert "model addition version 1 unloaded" in server.log
    assert "model recall version 1 unloaded" in server.log
