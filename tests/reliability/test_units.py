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
    file.write_text("# comment\n tok-b \n\ntok-c  # trailing comment\n")
    settings = Settings(auth_tokens="tok-a, ,tok-a2", auth_tokens_file=file)
    assert load_tokens(settings) == [b"tok-a", b"tok-a2", b"tok-b", b"tok-c"]
    assert load_tokens(Settings()) == []


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
