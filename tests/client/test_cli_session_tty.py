"""`seqserve session` at a terminal: driven through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from client_support import SEQSERVE


class Terminal:
    """A child process on a pty; `expect` reads until a text has appeared."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {text!r}; got {self.seen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {text!r}; got {self.seen!r}")
                self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        before, _, self.seen = self.seen.partition(text)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.process.wait(20)
        finally:
            os.close(self.master)


def test_interactive_session(server_target: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQSERVE_")}
    term = Terminal([SEQSERVE, "--target", server_target, "session", "recall"], env)
    try:
        banner = term.expect("> ")
        assert "recall session" in banner and "'reset'" in banner
        answers = []
        for symbol in ("3", "0", "1", "2"):
            term.send(symbol)
            term.expect(symbol + "\n")  # the terminal's echo
            answers.append(term.expect("\n> ").strip())
        assert answers == ["0", "1", "2", "3"]
        term.send("reset")
        assert "state reset" in term.expect("> ")
        term.send("9")  # a typo: the message, and the session goes on
        assert "seqserve: error: recall expects 1 int in 0-4; got 9 at position 0" in term.expect(
            "> "
        )
        answers = []
        for symbol in ("4", "0", "1", "2"):
            term.send(symbol)
            term.expect(symbol + "\n")
            answers.append(term.expect("\n> ").strip())
        assert answers == ["0", "1", "2", "4"]
        term.send("quit")
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
