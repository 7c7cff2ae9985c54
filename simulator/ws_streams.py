"""What each market stream sends, computed from the Market at the simulator clock.

* ``<symbol>@kline_<interval>`` (every market; spot knows ``1s``): the candle REST serves,
  ``x: true`` once with REST's final values when it closes;
* ``<pair>_<contracttype>@continuousKline_<interval>`` (futures): the same from the pair's
  continuous series, as ``continuous_kline`` events (``ps``, ``ct``; no ``k.s``);
* ``<symbol>@markPrice`` / ``<symbol>@markPrice@1s`` (futures): ``markPriceUpdate`` with
  the mark and index prices of the forming minute (those of the mark / index klines), the
  funding rate from the premium index, and the next funding time (COIN-M delivery
  contracts: ``"r": ""`` and ``"T": 0``, as Binance documents them).

Each stream names the :class:`~simulator.ws.WsSettings` field that sets its period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator import grid
from simulator.endpoints import CONTRACT_TYPES
from simulator.market import Market
from simulator.series import PRICE_KIND_DECIMALS, fmt, fmt_signed

FUNDING_INTERVAL_MS = 8 * 3_600_000
_INTEREST = 10_000  # 0.01 % in 1e-8 units
_CLAMP = 50_000  # 0.05 %


@dataclass
class KlineStream:
    """A kline or continuous kline stream."""

    market: str
    name: str  # the symbol, or the pair of a continuous stream
    interval: str
    contract_type: str | None = None
    open_ms: int | None = None  # the candle last sent as still open
    due: float = 0.0  # monotonic time of the next event

    @property
    def cadence(self) -> str:
        """The settings field holding this stream's period."""
        return "second_event_period_s" if self.interval == "1s" else "event_period_s"

    def _row(self, market: Market, open_ms: int, now_ms: int) -> list[Any] | None:
        kind = "trade" if self.contract_type is None else "continuous"
        rows = market.klines(
            self.name, self.interval, open_ms, open_ms, now_ms, 1,
            market=self.market, kind=kind, contract_type=self.contract_type,
        )  # fmt: skip
        return rows[0] if rows and rows[0][0] == open_ms else None

    def events(self, market: Market, now_ms: int, wrong_data: bool) -> list[dict[str, Any]]:
        """The final event of a candle that closed since the last call (REST's values), then
        the current candle's state."""
        out = []
        current = grid.floor_open(self.interval, now_ms)
        if self.open_ms is not None and self.open_ms < current:
            row = self._row(market, self.open_ms, now_ms)
            if row is not None:
                final = self._event(row, now_ms, True)
                if wrong_data:
                    final["k"]["c"] = str(Decimal(final["k"]["c"]) + 1)
                out.append(final)
        row = self._row(market, current, now_ms)
        if row is not None:
            out.append(self._event(row, now_ms, False))
        self.open_ms = current
        return out

    def _event(self, row: list[Any], now_ms: int, closed: bool) -> dict[str, Any]:
        event = kline_event(self.name, self.interval, row, now_ms, closed)
        if self.contract_type is None:
            return event
        k = {key: value for key, value in event["k"].items() if key != "s"}
        return {"e": "continuous_kline", "E": now_ms, "ps": self.name, "ct": self.contract_type,
                "k": k}  # fmt: skip


@dataclass
class MarkPriceStream:
    """A mark price stream (every 3 s, or every second for ``@1s``)."""

    market: str
    symbol: str
    fast: bool
    due: float = 0.0

    @property
    def cadence(self) -> str:
        """The settings field holding this stream's period."""
        return "mark_fast_period_s" if self.fast else "mark_period_s"

    def events(self, market: Market, now_ms: int, wrong_data: bool) -> list[dict[str, Any]]:
        """One ``markPriceUpdate``, or nothing while the contract has no mark price."""
        spec = market.specs(self.market)[self.symbol]
        mark = market.series(self.symbol, market=self.market, kind="mark").latest(now_ms)
        index = market.series(spec.pair, market=self.market, kind="index").latest(now_ms)
        if mark is None or index is None:
            return []
        p, i = fmt(mark, PRICE_KIND_DECIMALS), fmt(index, PRICE_KIND_DECIMALS)
        premium = market.series(self.symbol, market=self.market, kind="premium").latest(now_ms)
        funding = (premium or 0) + max(-_CLAMP, min(_CLAMP, _INTEREST - (premium or 0)))
        rate = fmt_signed(funding, PRICE_KIND_DECIMALS)
        next_funding = (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        head = {"e": "markPriceUpdate", "E": now_ms, "s": self.symbol}
        if self.market == "coinm":
            if spec.is_delivery:
                rate, next_funding = "", 0
            return [{**head, "p": p, "P": i, "i": i, "r": rate, "T": next_funding}]
        return [{**head, "p": p, "i": i, "P": i, "r": rate, "T": next_funding}]


Stream = KlineStream | MarkPriceStream


def parse(name: str, market_name: str, market: Market) -> Stream | None:
    """The stream behind a name on ``market_name``'s route, or ``None`` for a stream that
    never sends (unknown symbol, interval or kind)."""
    head, _, kind = name.partition("@")
    futures = market_name != "spot"
    if kind.startswith("kline_"):
        interval, symbol = kind.removeprefix("kline_"), head.upper()
        if interval in market.intervals(market_name) and symbol in market.specs(market_name):
            return KlineStream(market_name, symbol, interval)
        return None
    if kind.startswith("continuousKline_") and futures:
        interval = kind.removeprefix("continuousKline_")
        pair, _, contract_type = head.upper().partition("_")
        if (
            interval in market.intervals(market_name)
            and contract_type in CONTRACT_TYPES[market_name]
            and pair in market.pairs(market_name)
        ):
            return KlineStream(market_name, pair, interval, contract_type)
        return None
    if (
        kind in ("markPrice", "markPrice@1s")
        and futures
        and head.upper() in market.specs(market_name)
    ):
        return MarkPriceStream(market_name, head.upper(), kind.endswith("@1s"))
    return None


def in_microseconds(event: dict[str, Any]) -> dict[str, Any]:
    """A kline event with its times in microseconds (spot's ``timeUnit=MICROSECOND``)."""
    k = event["k"]
    return {
        **event,
        "E": event["E"] * 1000,
        "k": {**k, "t": k["t"] * 1000, "T": k["T"] * 1000 + 999},
    }


def kline_event(
    symbol: str, interval: str, row: list[Any], event_ms: int, closed: bool
) -> dict[str, Any]:
    """A Binance kline event for one REST row (same strings), in Binance's field order."""
    first_trade = row[0] // 1000
    return {
        "e": "kline",
        "E": event_ms,
        "s": symbol,
        "k": {
            "t": row[0],
            "T": row[6],
            "s": symbol,
            "i": interval,
            "f": first_trade,
            "L": first_trade + max(row[8], 1) - 1,
            "o": row[1],
            "c": row[4],
            "h": row[2],
            "l": row[3],
            "v": row[5],
            "n": row[8],
            "x": closed,
            "q": row[7],
            "V": row[9],
            "Q": row[10],
            "B": "0",
        },
    }
