"""The distributions' layers point one way: everything rests on seqserve-contract.

contract <- client, contract <- server, contract <- trainer, and nothing else between them:
the server never imports the client, the client stays grpcio + protobuf (no numpy, no
onnxruntime, no server), the trainer imports neither. Inside the server, the front-ends
(`api/`) rest on the core, the core on the engines, the engines on `execution/`, and only
`api/` handles gRPC. Every import statement counts,
including those inside functions and `if TYPE_CHECKING:` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "contract/src/seqserve/contract": (
        "seqserve.client", "seqserve.server", "seqserve.trainer", "numpy", "onnxruntime",
    ),
    "client/src/seqserve/client": ("seqserve.server", "seqserve.trainer", "numpy", "onnxruntime"),
    "server/src/seqserve/server": ("seqserve.client", "seqserve.trainer", "tensorflow"),
    "trainer/src/seqserve/trainer": ("seqserve.client", "seqserve.server"),
    # inside the server: api/ -> core -> engines/ -> execution/, and only api/ serves gRPC
    "server/src/seqserve/server/execution": (
        "seqserve.server.api", "seqserve.server.core", "seqserve.server.engines",
        "seqserve.server.repository", "seqserve.server.sessions", "grpc",
    ),
    "server/src/seqserve/server/engines": (
        "seqserve.server.api", "seqserve.server.core", "seqserve.server.repository",
        "seqserve.server.sessions", "grpc",
    ),
    "server/src/seqserve/server/repository": (
        "seqserve.server.api", "seqserve.server.core", "grpc",
    ),
    "server/src/seqserve/server/core.py": ("seqserve.server.api", "grpc"),
}  # fmt: skip


def imported(path: Path) -> set[str]:
    """Every absolute module name a file imports (`from a import b` gives `a` and `a.b`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    root = ROOT / package
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    assert files, f"no modules under {package}"
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imported(path)
        if breaks(name, FORBIDDEN[package])
    }
    assert not wrong, "\n".join(sorted(wrong))


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import numpy as np\nfrom seqserve.client import codecs\n"
        "def f():\n    from seqserve import server\n"
        "if False:\n    import onnxruntime.capi\nfrom . import sibling\n"
    )
    names = imported(source)
    assert {"numpy", "seqserve.client", "seqserve.server", "onnxruntime.capi"} <= names
    assert not any(n.endswith("sibling") for n in names)
    assert breaks("seqserve.client.codecs", ("seqserve.client",))
    assert not breaks("seqserve.clientele", ("seqserve.client",))
