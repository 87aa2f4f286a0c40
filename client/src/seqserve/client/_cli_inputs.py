"""Reading CLI inputs: arguments and lines of a file into what `Client.predict` takes."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TextIO

from seqserve.v1 import seqserve_pb2 as pb

_SPLIT = re.compile(r"[\s,]+")


class UsageError(Exception):
    """A mistake in the command line or its files (exit code 2)."""


def parse_item(info: pb.ModelInfo, text: str) -> str | list[int | float | str]:
    """A command-line or file input for this model: text as is, else numbers."""
    if info.input.kind == pb.DATA_KIND_TEXT:
        return text.strip()
    return [number(token) for token in _SPLIT.split(text.strip(" \t\r\n[]()")) if token]


def number(token: str) -> int | float | str:
    """An int, else a float, else the token itself (so the codec names it in its message)."""
    for convert in (int, float):
        try:
            return convert(token)
        except ValueError:
            pass
    return token


def lines(path: str) -> Iterator[tuple[int, str]]:
    try:
        handle: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def chunks(items: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
