"""Settings read from the environment: the host's weight ledger."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flows.settings import Settings


def test_the_weight_ledger_is_on_by_default_in_a_directory_of_this_user_under_tmp() -> None:
    ledger = Settings.from_env({}).rest_config().weight_ledger
    assert ledger == str(Path(tempfile.gettempdir()) / f"klines-weight-{os.getuid()}")


def test_off_gives_each_process_its_own_budget() -> None:
    assert Settings.from_env({"KLINES_WEIGHT_LEDGER": "off"}).rest_config().weight_ledger is None


def test_an_absolute_directory_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings.from_env({"KLINES_WEIGHT_LEDGER": str(tmp_path)})
    assert settings.rest_config().weight_ledger == str(tmp_path)
