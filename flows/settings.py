"""Settings from the environment; command-line flags win (the only place env is read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from exchange.config import DEFAULT_REST_URL, DEFAULT_WS_URL, RestConfig

DEFAULT_DB = Path("data") / "klines.duckdb"
# A series with nothing stored starts this many candles before now (1,000 candles:
# about 16.7 hours of 1m, 41.7 days of 1h, 2.7 years of 1d), bounded by the listing date.
DEFAULT_LOOKBACK_CANDLES = 1000


@dataclass(frozen=True)
class Settings:
    """Everything a run needs that is not a per-run parameter."""

    rest_url: str = DEFAULT_REST_URL
    ws_url: str = DEFAULT_WS_URL
    db_path: str = str(DEFAULT_DB)
    lookback_candles: int = DEFAULT_LOOKBACK_CANDLES
    weight_share: float = 0.8
    http_retries: int = 6
    backoff_base: float = 0.5
    read_timeout: float = 10.0
    lock_timeout: float = 120.0
    api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Read ``KLINES_*`` variables, then apply non-None ``flags`` on top."""
        env = os.environ if env is None else env
        base = cls(
            rest_url=env.get("KLINES_REST_URL") or DEFAULT_REST_URL,
            ws_url=env.get("KLINES_WS_URL") or DEFAULT_WS_URL,
            db_path=env.get("KLINES_DB") or str(DEFAULT_DB),
            lookback_candles=int(env.get("KLINES_LOOKBACK_CANDLES") or DEFAULT_LOOKBACK_CANDLES),
            weight_share=float(env.get("KLINES_WEIGHT_SHARE") or 0.8),
            http_retries=int(env.get("KLINES_HTTP_RETRIES") or 6),
            backoff_base=float(env.get("KLINES_HTTP_BACKOFF") or 0.5),
            read_timeout=float(env.get("KLINES_READ_TIMEOUT") or 10.0),
            lock_timeout=float(env.get("KLINES_LOCK_TIMEOUT") or 120.0),
            api_key=env.get("KLINES_API_KEY") or None,
        )
        return replace(base, **{k: v for k, v in flags.items() if v is not None})

    def rest_config(self) -> RestConfig:
        return RestConfig(
            base_url=self.rest_url,
            read_timeout=self.read_timeout,
            max_retries=self.http_retries,
            backoff_base=self.backoff_base,
            weight_share=self.weight_share,
            api_key=self.api_key,
        )
