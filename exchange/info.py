"""What a market's exchangeInfo says: its symbols (status, contract type, listing and
delivery dates, pair) and its request-weight limit (pure: no I/O).

Read by :meth:`exchange.rest.RestClient.exchange_info`; ``exchange.rest`` re-exports both
classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .markets import FAR_FUTURE_MS

# A rate-limit window's unit (and X-MBX-USED-WEIGHT-<n><unit>'s) in milliseconds.
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_LIVE = ("TRADING", "PENDING_TRADING")  # statuses of a contract that trades or will


@dataclass(frozen=True)
class SymbolInfo:
    """The exchangeInfo facts that bound a symbol's kline history (spot's exchangeInfo
    has no contract type, listing or delivery date: ``""``, 0 and far in the future)."""

    symbol: str
    status: str
    contract_type: str
    onboard_ms: int
    delivery_ms: int
    pair: str = ""

    @property
    def is_perpetual(self) -> bool:
        return self.delivery_ms >= 4_000_000_000_000


@dataclass(frozen=True)
class ExchangeInfo:
    """Symbols and the request-weight limit published by a market's exchangeInfo.

    ``api`` is the market's path prefix (``/fapi/v1``), for messages naming the source.
    """

    symbols: dict[str, SymbolInfo]
    weight_limit: int
    weight_window_ms: int
    api: str = "/fapi/v1"

    @property
    def has_contracts(self) -> bool:
        """Whether symbols are contracts (futures: perpetual or delivery), not spot pairs."""
        return any(i.contract_type for i in self.symbols.values())

    @property
    def pairs(self) -> set[str]:
        """The underlying pairs (index prices are by pair: BTCUSDT, BTCUSD)."""
        return {i.pair for i in self.symbols.values() if i.pair}

    def by_pair(self) -> ExchangeInfo:
        """The same facts keyed by pair, for kinds keyed by pair (the index price).

        A pair is listed from the earliest ``onboardDate`` of its contracts to their last
        delivery (never ending while it has a perpetual); it trades while any of its
        contracts does, else it takes the status of its last-delivered contract.
        """
        contracts: dict[str, list[SymbolInfo]] = {}
        for info in self.symbols.values():
            if info.pair:
                contracts.setdefault(info.pair, []).append(info)
        pairs = {}
        for pair, infos in sorted(contracts.items()):
            last = max(infos, key=lambda i: (i.delivery_ms, i.onboard_ms))
            statuses = {i.status for i in infos}
            status = next((s for s in _LIVE if s in statuses), last.status)
            perpetual = next((i for i in infos if i.is_perpetual), None)
            pairs[pair] = SymbolInfo(
                symbol=pair,
                status=status,
                contract_type=(perpetual or last).contract_type,
                onboard_ms=min(i.onboard_ms for i in infos),
                delivery_ms=last.delivery_ms,
                pair=pair,
            )
        return ExchangeInfo(pairs, self.weight_limit, self.weight_window_ms, self.api)

    @classmethod
    def from_json(cls, data: dict[str, Any], api: str = "/fapi/v1") -> ExchangeInfo:
        symbols = {
            s["symbol"]: SymbolInfo(
                symbol=s["symbol"],
                status=s.get("status") or s.get("contractStatus") or "TRADING",
                contract_type=s.get("contractType", ""),
                onboard_ms=int(s.get("onboardDate", 0)),
                delivery_ms=int(s.get("deliveryDate", FAR_FUTURE_MS)),
                pair=s.get("pair", ""),
            )
            for s in data.get("symbols", [])
        }
        limit, window_ms = 2400, 60_000
        for rule in data.get("rateLimits", []):
            if rule.get("rateLimitType") == "REQUEST_WEIGHT":
                unit = str(rule.get("interval", "MINUTE"))[0].lower()
                window_ms = int(rule.get("intervalNum", 1)) * UNIT_MS[unit]
                limit = int(rule["limit"])
        return cls(symbols, limit, window_ms, api)
