"""Every `curl` line of docs/http.md and the README runs as written against a real server
(the documented port swapped for the test server's) and answers as documented: 2xx, or the
status the comment under it shows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "http.md", ROOT / "README.md"]


def documented() -> list[tuple[str, int | None]]:
    """(curl line, expected status or None for any 2xx) of every curl line in the docs."""
    out: list[tuple[str, int | None]] = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("curl "):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else ""
            status = re.match(r"# HTTP/1\.1 (\d{3})", following)
            out.append((line, int(status.group(1)) if status else None))
    return out


@pytest.mark.parametrize(("line", "expected"), documented())
def test_documented_curl_line(http_url: str, line: str, expected: int | None) -> None:
    command = line.replace("http://localhost:8000", http_url).replace(
        "localhost:8000", http_url.removeprefix("http://")
    )
    command = command.replace("curl ", "curl -s -o /dev/stderr -w '%{http_code}' ", 1)
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command.split(" | ")[0]],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = int(done.stdout[-3:])
    if expected is None:
        assert 200 <= status < 300, done.stderr
    else:
        assert status == expected, done.stderr
