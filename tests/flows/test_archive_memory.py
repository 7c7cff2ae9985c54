"""A year of 1m candles for ten symbols streams through in bounded memory."""

from __future__ import annotations

import pytest

from bench import memory


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_one_year_ten_symbols_archive_backfill_stays_under_1_gb() -> None:
    ((_, candles, _, _, peak_mib, limit_mib),) = memory.run(10, 12)
    assert candles > 10 * 365 * 1440 * 0.99
    assert peak_mib < limit_mib
