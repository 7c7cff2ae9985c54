"""``exchangeInfo`` in each market's own shape.

* USDⓈ-M (``/fapi/v1``): ``status``, ``contractType``, ``onboardDate``, ``deliveryDate``,
  ``marginAsset`` (the quote asset), ``futuresType``, ``assets``.
* COIN-M (``/dapi/v1``): ``contractStatus`` (not ``status``), ``contractSize`` (USD per
  contract), ``marginAsset`` = the base asset, ``quoteAsset`` USD, ``equalQtyPrecision``.
* Spot (``/api/v3``): ``status`` TRADING / BREAK ..., no contract fields, 8-decimal filters,
  ``permissionSets``, and spot's own rate limiters (REQUEST_WEIGHT 6000/min).

``rateLimits`` REQUEST_WEIGHT shows the budget of the request's pool (the simulator's
``weight_limit`` per ``weight_window_s`` for both futures markets, the spot pool for spot).
"""

from __future__ import annotations

from typing import Any

from simulator.ratelimit import Pool
from simulator.series import fmt, padded
from simulator.symbols import SymbolSpec


def _weight_limit(pool: Pool) -> dict[str, Any]:
    interval, num = pool.interval()
    return {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": interval,
        "intervalNum": num,
        "limit": pool.limit,
    }


def usdm_info(specs: list[SymbolSpec], pool: Pool, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo``."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            _weight_limit(pool),
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_usdm_symbol(s) for s in specs],
    }


def _usdm_symbol(spec: SymbolSpec) -> dict[str, object]:
    return {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_ms,
        "onboardDate": spec.onboard_ms,
        "status": spec.status,
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "filters": _filters(spec.price_tick, spec.qty_step, "10000000", "10000000"),
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def _filters(tick: str, step: str, max_price: str, max_qty: str) -> list[dict[str, str]]:
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": max_price, "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": max_qty, "stepSize": step},
    ]


def coinm_info(specs: list[SymbolSpec], pool: Pool, now_ms: int) -> dict[str, Any]:
    """``GET /dapi/v1/exchangeInfo``."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            _weight_limit(pool),
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "symbols": [_coinm_symbol(s) for s in specs],
    }


def _coinm_symbol(spec: SymbolSpec) -> dict[str, object]:
    return {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_ms,
        "onboardDate": spec.onboard_ms,
        "contractStatus": spec.status,
        "contractSize": spec.contract_size,
        "marginAsset": spec.base_asset,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "equalQtyPrecision": 4,
        "triggerProtect": "0.0500",
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "filters": _filters(spec.price_tick, spec.qty_step, "4529764", "1000000"),
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],  # fmt: skip
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "liquidationFee": "0.015000",
        "marketTakeBound": "0.05",
    }


def spot_info(specs: list[SymbolSpec], pool: Pool, now_ms: int) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo`` (of ``specs``: all of them, or those asked for)."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            _weight_limit(pool),
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },  # fmt: skip
        ],
        "exchangeFilters": [],
        "symbols": [_spot_symbol(s) for s in specs],
    }


def _eight(text: str) -> str:
    """A decimal string with (at least) eight decimals, as spot prints them."""
    mult, places = padded(text, 8)
    return fmt(mult, places)


def _spot_symbol(spec: SymbolSpec) -> dict[str, object]:
    trading = spec.status == "TRADING"
    return {
        "symbol": spec.symbol,
        "status": spec.status,
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],  # fmt: skip
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": trading,
        "isMarginTradingAllowed": trading,
        "filters": _filters(
            _eight(spec.price_tick), _eight(spec.qty_step), "1000000.00000000", "9000.00000000"
        ),
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]] if trading else [],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }
