"""One Prefect test harness (a real API server on SQLite) for every flow test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(autouse=True, scope="session")
def prefect_api() -> Iterator[None]:
    # The harness's own server (a test fixture, not the product's: the `klines` command
    # chooses its Prefect settings itself, cli/prefect_api.py) does not phone home.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=180):
        yield
