"""Build hook of seqserve-contract: generate the gRPC code of the `.proto` sources.

`grpc_tools.protoc` (grpcio-tools, a build requirement) writes `seqserve/v1/` and
`seqserve/kserve/v2/` (messages, stubs, `.pyi` types) into `src/`, and the serialized
descriptors of every file into `seqserve/contract/descriptors.binpb` (the server builds the
KServe messages from it in a private descriptor pool). It runs before metadata, sdist and
build_py, so `pip install ./contract`, an editable install and `python -m build` need no
separate step. The sources are the repository's `proto/` folder in a checkout; an sdist
carries a copy of them (and the generated code) in its own `proto/`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DESCRIPTORS = SRC / "seqserve" / "contract" / "descriptors.binpb"
GENERATED_PACKAGES = ["seqserve.v1", "seqserve.kserve.v2"]


def proto_root() -> Path:
    """`proto/` of the checkout around this folder, else the copy an sdist carries."""
    for root in (HERE.parent / "proto", HERE / "proto"):
        if (root / "seqserve" / "v1" / "seqserve.proto").is_file():
            return root
    raise FileNotFoundError(f"no proto sources beside {HERE} (expected ../proto or ./proto)")


def generate() -> None:
    """Run protoc when a generated file is missing or older than a source."""
    root = proto_root()
    protos = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    outputs = [DESCRIPTORS] + [
        SRC / p.replace(".proto", suffix) for p in protos for suffix in ("_pb2.py", "_pb2_grpc.py")
    ]
    newest = max((root / p).stat().st_mtime for p in protos)
    if all(out.is_file() and out.stat().st_mtime >= newest for out in outputs):
        return
    from grpc_tools import protoc  # a build requirement; only needed when generating

    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"--python_out={SRC}",
        f"--grpc_python_out={SRC}",
        f"--pyi_out={SRC}",
        f"--descriptor_set_out={DESCRIPTORS}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {protos}")
    for out in outputs:
        out.touch()


class GeneratingEggInfo(egg_info):
    def run(self) -> None:
        generate()
        super().run()


class GeneratingBuildPy(build_py):
    def run(self) -> None:
        generate()
        super().run()


class GeneratingSdist(sdist):
    def run(self) -> None:
        generate()
        super().run()

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        if not (HERE / "proto").is_dir():
            shutil.copytree(proto_root(), Path(base_dir) / "proto")


setup(
    packages=["seqserve.contract", *GENERATED_PACKAGES],
    package_dir={"": "src"},
    package_data={"seqserve.contract": ["py.typed", "descriptors.binpb"], "": ["*.pyi"]},
    cmdclass={
        "egg_info": GeneratingEggInfo,
        "build_py": GeneratingBuildPy,
        "sdist": GeneratingSdist,
    },
)
