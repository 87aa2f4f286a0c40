"""The runnable snippets of the README and docs/: what the doc-test extracts.

- In ```bash / ```sh / ```shell blocks: every line (with its `\\` continuations) one of
  whose pipeline stages runs `seqserve` (or `.venv/bin/seqserve`) or `curl`; other lines
  (make, docker, kubectl, cp) are not run.
- In ```console blocks: every `$ ` line that runs `seqserve` or `curl` the same way; the
  lines after it, up to the next `$ `, are what it prints.
- Every ```python block, as a whole.

Blocks without a language (directory trees, log excerpts, plain listings) are text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL = {"bash", "sh", "shell"}
RUNS = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:\S*/)?(?:seqserve|curl)(?:\s|$)")
FENCE = re.compile(r"^(\s*)```\s*([\w-]*)\s*$")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    language: str  # "shell" or "python"
    text: str
    expected: tuple[str, ...] = ()  # console: what the docs show it printing

    def id(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def extract(path: Path) -> list[Snippet]:
    found: list[Snippet] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        indent, language = opened.group(1), opened.group(2)
        body: list[tuple[int, str]] = []
        index += 1
        while index < len(lines) and not FENCE.match(lines[index]):
            body.append((index + 1, lines[index].removeprefix(indent)))
            index += 1
        index += 1  # the closing fence
        if language in SHELL:
            found += _shell(path, body)
        elif language == "console":
            found += _console(path, body)
        elif language == "python" and body:
            found.append(Snippet(path, body[0][0], "python", "\n".join(t for _, t in body)))
    return found


def runs_a_command(line: str) -> bool:
    """A pipeline one of whose stages starts with seqserve or curl."""
    return any(RUNS.match(stage.strip()) for stage in line.split("|"))


def _joined(body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Lines with their `\\` continuations joined, numbered by their first line."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in body:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text.strip()
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1].rstrip())
            continue
        pending = None
        out.append((number, text))
    return out


def _shell(path: Path, body: list[tuple[int, str]]) -> list[Snippet]:
    return [
        Snippet(path, number, "shell", text.strip())
        for number, text in _joined(body)
        if not text.strip().startswith("#") and runs_a_command(text)
    ]


def _console(path: Path, body: list[tuple[int, str]]) -> list[Snippet]:
    found: list[Snippet] = []
    command: tuple[int, str] | None = None
    output: list[str] = []

    def close() -> None:
        if command is not None and runs_a_command(command[1]):
            found.append(Snippet(path, command[0], "shell", command[1], tuple(output)))

    for number, text in _joined(body):
        if text.startswith("$ "):
            close()
            command, output = (number, text[2:].strip()), []
        else:
            output.append(text)
    close()
    return found
