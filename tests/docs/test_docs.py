"""Every command and snippet of the README and docs/ runs as written against a real server.

The snippets (`doc_snippets.py`) run in document order against one server on the exported
models, started with `--model-control explicit` and every model loaded (so the load and
unload examples work too) and a metrics port. The documented addresses are that server's:
`localhost:50051` (and `127.0.0.1:50051`) become its gRPC address, `localhost:8000` its HTTP
address, `localhost:9090` its metrics address. Shell lines run under bash in a folder of
their own per document (files one line saves, a later one reads) with `.venv/bin` first on
PATH and SEQSERVE_TARGET set; they must exit 0, or, where the docs show `seqserve: error:
...` after them, fail with that line. Python blocks of one document share a namespace,
holding an open `client` (a `seqserve.client.Client`) unless a block makes its own; top-
level `await` is allowed.

A snippet that cannot run here goes in SKIP with the reason, a page that a test of its own
runs as written in OWN_TEST; nothing else is skipped.
"""

from __future__ import annotations

import ast
import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from doc_snippets import Snippet, documents, extract

from seqserve.client import Client

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = [snippet for path in documents(ROOT) for snippet in extract(path)]

# A text found in a snippet -> why it cannot run in this test (and what covers it instead).
SKIP = {
    "seqserve-headless": "needs a Kubernetes headless Service (tests/deploy checks the manifests)",
}


# A document run as written by a test of its own (its own server, files and ports).
OWN_TEST = {
    "docs/bring-your-own.md": "the page runs as written, with its own server on its port, in "
    "tests/kserve/test_bring_your_own_doc.py",
}


def skip_reason(snippet: Snippet) -> str | None:
    own = OWN_TEST.get(str(snippet.path.relative_to(ROOT)))
    return own or next((why for text, why in SKIP.items() if text in snippet.text), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def docs_server(models_dir: Path, launch_server: Callable[..., Any]) -> Iterator[dict[str, str]]:
    names = sorted(p.name for p in models_dir.iterdir() if any(p.glob("*/model.json")))
    metrics, http = free_port(), free_port()
    server = launch_server(
        models_dir,
        "--model-control", "explicit", "--load-model", ",".join(names),
        "--metrics-port", str(metrics), "--http-port", str(http),
    )  # fmt: skip
    yield {
        "localhost:50051": server.target,
        "127.0.0.1:50051": server.target,
        "localhost:9090": f"127.0.0.1:{metrics}",
        "localhost:8000": f"127.0.0.1:{http}",
        "127.0.0.1:8000": f"127.0.0.1:{http}",
    }
    server.stop()


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    return {path: tmp_path_factory.mktemp(path.stem) for path in documents(ROOT)}


@pytest.fixture(scope="module")
def open_client(docs_server: dict[str, str]) -> Iterator[Client]:
    with Client(docs_server["localhost:50051"]) as client:
        yield client


@pytest.fixture(scope="module")
def namespaces() -> dict[Path, dict[str, Any]]:
    return {}


def addressed(text: str, addresses: dict[str, str]) -> str:
    for documented, actual in addresses.items():
        text = text.replace(documented, actual)
    return text


def run_shell(snippet: Snippet, addresses: dict[str, str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQSERVE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SEQSERVE_TARGET"] = addresses["localhost:50051"]
    done = subprocess.run(
        ["bash", "-c", addressed(snippet.text, addresses)],
        cwd=ROOT if snippet.text.startswith(".venv/") else cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown_error = next((line for line in snippet.expected if line.strip()), "")
    if shown_error.startswith("seqserve: error:"):
        assert done.returncode != 0, done.stdout
        assert done.stderr.splitlines()[0] == shown_error.strip()
    else:
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def run_python(snippet: Snippet, addresses: dict[str, str], space: dict[str, Any]) -> None:
    source = addressed(snippet.text, addresses)
    code = compile(source, snippet.id(ROOT), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, space)
    if asyncio.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id(ROOT) for s in SNIPPETS])
def test_snippet_runs(
    snippet: Snippet,
    docs_server: dict[str, str],
    workdirs: dict[Path, Path],
    namespaces: dict[Path, dict[str, Any]],
    open_client: Client,
) -> None:
    reason = skip_reason(snippet)
    if reason is not None:
        pytest.skip(reason)
    if snippet.language == "shell":
        run_shell(snippet, docs_server, workdirs[snippet.path])
        return
    space = namespaces.setdefault(snippet.path, {})
    if space.get("client") is None or isinstance(space["client"], Client):
        space["client"] = open_client  # a block's own `with Client(...)` one is closed by now
    run_python(snippet, docs_server, space)


def test_every_document_is_read() -> None:
    """The extractor finds the CLI lines, the transcripts and the Python blocks."""
    by_language = {s.language for s in SNIPPETS}
    assert by_language == {"shell", "python"}
    texts = [s.text for s in SNIPPETS]
    assert 'seqserve predict addition "3+10"' in " ".join(texts)
    assert any(t.startswith("curl ") for t in texts)
    used = {text for text in SKIP if any(text in s.text for s in SNIPPETS)}
    assert used == set(SKIP), f"skip entries matching no snippet: {set(SKIP) - used}"
    assert all((ROOT / page).is_file() for page in OWN_TEST)
