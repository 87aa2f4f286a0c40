"""Settings from flags and SEQSERVE_* variables; device selection."""

from __future__ import annotations

import logging

import pytest

from seqserve.server.__main__ import build_parser
from seqserve.server.runtime import CPU, CUDA, DeviceUnavailable, choose_providers
from seqserve.server.settings import Device, Settings


def settings_from(argv: list[str]) -> Settings:
    return Settings(**vars(build_parser().parse_args(argv)))


def test_flags_override_environment_which_overrides_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_from([]).max_queue == 1024
    monkeypatch.setenv("SEQSERVE_MAX_QUEUE", "7")
    monkeypatch.setenv("SEQSERVE_DEVICE", "auto")
    assert settings_from([]).max_queue == 7
    chosen = settings_from(["--max-queue", "9", "--port", "0"])
    assert (chosen.max_queue, chosen.port, chosen.device) == (9, 0, Device.AUTO)


def test_every_setting_has_a_flag_and_a_description() -> None:
    help_text = build_parser().format_help()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert "--" + name.replace("_", "-") in help_text
        assert f"SEQSERVE_{name.upper()}" in "".join(help_text.split())


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        settings_from(["--max-batch-size", "0"])


def test_device_selection(caplog: pytest.LogCaptureFixture) -> None:
    assert choose_providers(Device.CPU, [CUDA, CPU]) == [CPU]
    assert choose_providers(Device.CUDA, [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers(Device.AUTO, [CUDA, CPU]) == [CUDA, CPU]
    with pytest.raises(DeviceUnavailable, match="--device cpu"):
        choose_providers(Device.CUDA, [CPU])
    with caplog.at_level(logging.WARNING):
        assert choose_providers(Device.AUTO, [CPU]) == [CPU]
    assert "serving on CPU" in caplog.text
