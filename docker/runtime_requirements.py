"""Print the third-party runtime requirements of the given pyproject.toml files.

Used by docker/Dockerfile to install the dependencies (pinned by constraints.txt) in a layer
of their own, before the seqserve sources are copied in, so that editing the code does not
reinstall onnxruntime and friends. seqserve's own distributions are left out: they are
installed from the sources afterwards.
"""

from __future__ import annotations

import sys
import tomllib


def requirements(paths: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for path in paths:
        with open(path, "rb") as f:
            project = tomllib.load(f)["project"]
        for requirement in project.get("dependencies", []):
            name = requirement.split(";")[0]
            for stop in "<>=!~[ ":
                name = name.split(stop)[0]
            key = name.strip().lower().replace("_", "-")
            if key.startswith("seqserve-"):
                continue
            seen.setdefault(key, requirement)
    return list(seen.values())


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: runtime_requirements.py PYPROJECT.toml...")
    print("\n".join(requirements(sys.argv[1:])))


if __name__ == "__main__":
    main()
