"""The REST client against the local simulator: paging, weight, retries, errors."""

from __future__ import annotations

import json
import socket

import pytest

from exchange.config import RestConfig
from exchange.errors import (
    ExchangeUnreachable,
    IpBanned,
    RestrictedLocation,
    SeriesRejected,
    ServerError,
    WafBlocked,
)
from exchange.markets import MARKETS
from exchange.rest import RestClient
from simulator import Simulator
from tests.conftest import NOW_MS, ms


def client_for(sim: Simulator, **overrides: object) -> RestClient:
    config = dict(base_url=sim.url, backoff_base=0.001, read_timeout=1.0, max_retries=4)
    config.update(overrides)
    return RestClient(RestConfig(**config))  # type: ignore[arg-type]


def test_exchange_info_gives_symbols_and_the_published_weight_limit(sim: Simulator) -> None:
    client = client_for(sim)
    info = client.exchange_info()
    assert {"BTCUSDT", "ETHUSDT", "OLDUSDT"} <= set(info.symbols)
    assert info.symbols["OLDUSDT"].status == "SETTLING" and not info.symbols["OLDUSDT"].is_perpetual
    assert (info.weight_limit, info.weight_window_ms) == (2400, 60_000)
    assert client.budget.limit == 2400


def test_server_time_is_the_simulator_clock(sim: Simulator) -> None:
    assert client_for(sim).server_time_ms() == NOW_MS


def test_a_page_holds_limit_candles_from_start_time(sim: Simulator) -> None:
    page = client_for(sim).klines_page("BTCUSDT", "1m", ms("2026-11-01T00:00:00"), NOW_MS, 499)
    rows = json.loads(page.body)
    assert page.rows == len(rows) == 499
    assert rows[0][0] == ms("2026-11-01T00:00:00")
    assert page.server_ms is not None and abs(page.server_ms - NOW_MS) < 1000


def test_quote_volumes_take_one_ticker_request_of_weight_40(sim: Simulator) -> None:
    client = client_for(sim)
    volumes = client.quote_volumes()
    assert set(volumes) == set(sim.market.symbols)
    assert volumes["BTCUSDT"] > 0 and volumes["OLDUSDT"] == 0  # delisted in June
    assert (client.stats.requests, client.stats.weight, client.budget._used) == (1, 40, 40)


def test_weight_is_counted_from_the_weight_table_and_the_header(sim: Simulator) -> None:
    client = client_for(sim)
    client.klines_page("BTCUSDT", "1m", ms("2026-11-01T00:00:00"), NOW_MS, 499)
    client.klines_page("BTCUSDT", "1m", ms("2026-11-01T00:00:00"), NOW_MS, 1500)
    assert (
        client.stats.weight
        == MARKETS["usdm"].klines_weight.weight(499) + MARKETS["usdm"].klines_weight.weight(1500)
        == 12
    )
    assert client.budget._used == 12  # the header agrees with the local count


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        ("500", "5xx"),
        ("502", "5xx"),
        ("503", "5xx"),
        ("drop", "dropped"),
        ("truncate", "truncated"),
        ("html403", "403"),
    ],
)
def test_transient_faults_are_retried_and_counted_by_cause(
    sim: Simulator, fault: str, cause: str
) -> None:
    sim.faults.update(script=[fault, fault])
    client = client_for(sim)
    page = client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 10)
    assert page.rows == 10
    assert client.stats.retries[cause] == 2


def test_a_response_slower_than_the_read_timeout_is_retried(sim: Simulator) -> None:
    sim.faults.update(script=["slow"], slow_seconds=2.0)
    client = client_for(sim, read_timeout=0.3)
    assert client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 5).rows == 5
    assert client.stats.retries["timeout"] == 1


def test_persistent_5xx_fails_after_the_retry_budget_naming_the_last_error(sim: Simulator) -> None:
    sim.faults.update(error_rate=1.0, kinds=("503",))
    client = client_for(sim, max_retries=3)
    with pytest.raises(ServerError, match="failed after 4 attempts.*HTTP 503"):
        client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 5)
    assert sim.stats.snapshot()["requests"] == 4


def test_a_persistent_waf_block_ends_without_a_retry_storm(sim: Simulator) -> None:
    sim.faults.update(waf_block=True)
    client = client_for(sim, max_retries=2)
    with pytest.raises(WafBlocked, match="web application firewall"):
        client.server_time_ms()
    assert sim.stats.snapshot()["requests"] == 3


def test_451_is_final_at_once(sim: Simulator) -> None:
    sim.faults.update(restricted=True)
    with pytest.raises(RestrictedLocation, match="HTTP 451"):
        client_for(sim).exchange_info()
    assert sim.stats.snapshot()["requests"] == 1


def test_invalid_symbol_answer_rejects_the_series_without_retrying(sim: Simulator) -> None:
    sim.faults.update(invalid_symbols={"ETHUSDT"})
    client = client_for(sim)
    with pytest.raises(SeriesRejected, match="Invalid symbol") as err:
        client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 5)
    assert err.value.code == -1121
    assert client.stats.retries.total() == 0


def test_429_waits_retry_after_then_succeeds_and_slows_down(sim: Simulator) -> None:
    sim.clock.freeze(ms("2026-11-02T00:07:59"))  # Retry-After: 1 s, to the window's end
    sim.faults.update(script=["429"])
    client = client_for(sim, weight_share=0.8)
    assert client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 5).rows == 5
    assert client.stats.retries["429"] == 1
    assert client.budget.share < 0.8
    assert sim.stats.snapshot()["count_418"] == 0


def test_418_stops_every_later_call_until_the_ban_ends(sim: Simulator) -> None:
    sim.faults.update(script=["418"])
    client = client_for(sim)
    with pytest.raises(IpBanned, match="banned this IP until"):
        client.klines_page("ETHUSDT", "1h", ms("2026-11-01T00:00:00"), NOW_MS, 5)
    sent = sim.stats.snapshot()["requests"]
    with pytest.raises(IpBanned):
        client.server_time_ms()
    assert sim.stats.snapshot()["requests"] == sent  # nothing more was sent


def test_an_unreachable_url_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RestClient(RestConfig(base_url=f"http://127.0.0.1:{port}", backoff_base=0.001))
    with pytest.raises(ExchangeUnreachable, match=f"127.0.0.1:{port}.*refused"):
        client.exchange_info()


def test_the_api_key_is_masked_in_the_config_repr() -> None:
    config = RestConfig(api_key="6qv2KVTjAbCdEfGhIjKlMnOpQrStUv1NiD")
    assert "6qv2KVTj...1NiD" in repr(config)
    assert "AbCdEf" not in repr(config)
