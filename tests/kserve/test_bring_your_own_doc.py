"""docs/bring-your-own.md runs as written: its Python files are written out, its console
commands run in order in an empty folder (the server it starts in the background on a
free port instead of the page's), and each must succeed."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "bring-your-own.md"
PORT = "50061"
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_bring_your_own_page_runs_as_written(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    background: list[subprocess.Popen[bytes]] = []
    outputs: list[str] = []
    try:
        for kind, body in BLOCK.findall(DOC.read_text()):
            body = body.replace(PORT, port)
            if kind == "python":
                name = body.splitlines()[0].removeprefix("# ").strip()
                (tmp_path / name).write_text(body)
                continue
            for line in body.splitlines():
                command = line.removeprefix("$ ")
                if command == "kill %1":
                    continue  # the background server is stopped below
                if command.endswith(" &"):
                    log = (tmp_path / "server.log").open("wb")
                    background.append(
                        subprocess.Popen(
                            shlex.split(command[:-2]),
                            cwd=tmp_path,
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                        )
                    )
                    continue
                done = subprocess.run(
                    shlex.split(command),
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, (command, done.stdout, done.stderr)
                outputs.append(done.stdout)
    finally:
        for process in background:
            process.terminate()
            process.wait(30)
    text = "\n".join(outputs)
    assert "[[11], [21]]" in text  # call_scale.py
    assert '"sha256"' in text  # cat model.json
    assert "3 2 1" in text  # seqserve predict countdown 4 1 1 1
    assert background and background[0].returncode == 0
