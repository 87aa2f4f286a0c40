"""The security helpers on their own: token sources and parsing, constant-time matching,
loopback detection, TLS settings that go together."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from seqserve.server.api.auth import AuthConfigError, load_tokens, presented_token, token_matches
from seqserve.server.api.tls import is_loopback
from seqserve.server.settings import Settings


def test_tokens_from_both_sources(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("# comment\n token-b-0123456789 \n\n  # indented comment\ntoken#c-0123456789\n")
    settings = Settings(
        auth_tokens="token-a-0123456789, ,token-a2-012345678", auth_tokens_file=file
    )
    assert load_tokens(settings) == [
        b"token-a-0123456789",
        b"token-a2-012345678",
        b"token-b-0123456789",
        b"token#c-0123456789",  # a token line is the whole line: '#' inside is part of it
    ]
    assert load_tokens(Settings()) == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("secret#tail", "11 characters"),  # was read as the token 'secret'
        ("x", "1 characters"),
        ("long-enough-token-0123  # rotated in", "including whitespace"),
    ],
)
def test_short_tokens_and_comments_after_tokens_are_refused(
    tmp_path: Path, line: str, why: str
) -> None:
    file = tmp_path / "tokens"
    file.write_text(f"# tokens\n{line}\n")
    with pytest.raises(AuthConfigError, match=why) as raised:
        load_tokens(Settings(auth_tokens_file=file))
    assert "at least 16 characters" in str(raised.value)
    assert line.split()[0] not in str(raised.value)  # the token itself is never echoed


def test_configured_but_empty_or_unreadable_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(AuthConfigError, match="no token"):
        load_tokens(Settings(auth_tokens_file=empty))
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_tokens(Settings(auth_tokens_file=tmp_path / "missing"))


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ((("authorization", "Bearer abc"),), b"abc"),
        ((("Authorization", "bearer  abc "),), b"abc"),
        ((("authorization", b"Bearer abc"),), b"abc"),
        ((("x-other", "Bearer abc"),), None),
        ((("authorization", "Basic abc"),), None),
        ((), None),
        (None, None),
    ],
)
def test_presented_token(metadata: object, token: bytes | None) -> None:
    assert presented_token(metadata) == token  # type: ignore[arg-type]


def test_token_matches_any_accepted() -> None:
    accepted = [b"first", b"second"]
    assert token_matches(b"second", accepted)
    assert not token_matches(b"secon", accepted)
    assert not token_matches(b"", accepted)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_tls_settings_go_together() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(tls_cert=Path("a.pem"))
    with pytest.raises(ValidationError, match="needs --tls-cert"):
        Settings(tls_client_ca=Path("ca.pem"))
    assert Settings(tls_cert=Path("a.pem"), tls_key=Path("a.key")).tls_client_ca is None
