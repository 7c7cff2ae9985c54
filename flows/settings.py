"""Settings from the environment; command-line flags win (the only place env is read)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from exchange.archive import DEFAULT_ARCHIVE_URL, ArchiveConfig
from exchange.config import DEFAULT_REST_URL, DEFAULT_WS_URL, RestConfig
from exchange.errors import InvalidInput
from exchange.ws_events import check_ws_url

DEFAULT_DB = Path("data") / "klines.duckdb"
# A series with nothing stored starts this many candles before now (1,000 candles:
# about 16.7 hours of 1m, 41.7 days of 1h, 2.7 years of 1d), bounded by the listing date.
DEFAULT_LOOKBACK_CANDLES = 1000


def default_weight_ledger() -> str:
    """Where this user's processes share the host's REST weight budget (``$TMPDIR``)."""
    return str(Path(tempfile.gettempdir()) / f"klines-weight-{os.getuid()}")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs that is not a per-run parameter."""

    rest_url: str = DEFAULT_REST_URL
    ws_url: str = DEFAULT_WS_URL
    archive_url: str = DEFAULT_ARCHIVE_URL
    db_path: str = str(DEFAULT_DB)
    lookback_candles: int = DEFAULT_LOOKBACK_CANDLES
    weight_share: float = 0.8
    weight_ledger: str | None = field(default_factory=default_weight_ledger)
    http_retries: int = 6
    backoff_base: float = 0.5
    read_timeout: float = 10.0
    lock_timeout: float = 120.0
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Read ``KLINES_*`` variables, then apply non-None ``flags`` on top."""
        env = os.environ if env is None else env
        base = cls(
            rest_url=env.get("KLINES_REST_URL") or DEFAULT_REST_URL,
            ws_url=env.get("KLINES_WS_URL") or DEFAULT_WS_URL,
            archive_url=env.get("KLINES_ARCHIVE_URL") or DEFAULT_ARCHIVE_URL,
            db_path=env.get("KLINES_DB") or str(DEFAULT_DB),
            lookback_candles=_number(
                env, "KLINES_LOOKBACK_CANDLES", int, DEFAULT_LOOKBACK_CANDLES, 1, 10**7
            ),
            weight_share=_number(env, "KLINES_WEIGHT_SHARE", float, 0.8, 0.01, 1.0),
            weight_ledger=_ledger_dir(env),
            http_retries=_number(env, "KLINES_HTTP_RETRIES", int, 6, 0, 100),
            backoff_base=_number(env, "KLINES_HTTP_BACKOFF", float, 0.5, 0.0, 60.0),
            read_timeout=_number(env, "KLINES_READ_TIMEOUT", float, 10.0, 0.01, 600.0),
            lock_timeout=_number(env, "KLINES_LOCK_TIMEOUT", float, 120.0, 0.0, 86_400.0),
            api_key=env.get("KLINES_API_KEY") or None,
        )
        settings = replace(base, **{k: v for k, v in flags.items() if v is not None})
        _check_url(settings.rest_url, "KLINES_REST_URL or --rest-url", ("http", "https"))
        check_ws_url(settings.ws_url)
        _check_url(settings.archive_url, "KLINES_ARCHIVE_URL", ("http", "https"))
        return settings

    def archive_url_chosen(self) -> bool:
        """Whether the archive to use is clear: set explicitly, or REST is Binance's own."""
        return self.archive_url != DEFAULT_ARCHIVE_URL or self.rest_url == DEFAULT_REST_URL

    def archive_config(self) -> ArchiveConfig:
        return ArchiveConfig(
            base_url=self.archive_url,
            read_timeout=max(self.read_timeout, 30.0),
            max_retries=min(self.http_retries, 4),
            backoff_base=self.backoff_base,
        )

    def rest_config(self) -> RestConfig:
        return RestConfig(
            base_url=self.rest_url,
            read_timeout=self.read_timeout,
            max_retries=self.http_retries,
            backoff_base=self.backoff_base,
            weight_share=self.weight_share,
            weight_ledger=self.weight_ledger,
            api_key=self.api_key,
        )


def _number(
    env: Mapping[str, str], name: str, kind: type, default: float, low: float, high: float
) -> Any:
    text = env.get(name)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInput(
            f"{name}={text!r} is not a number: unset it or use e.g. {default}"
        ) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name}={text} is out of range: use a value from {low} to {high}")
    return value


def _ledger_dir(env: Mapping[str, str]) -> str | None:
    """``KLINES_WEIGHT_LEDGER``: an absolute directory, or ``off`` (None)."""
    text = env.get("KLINES_WEIGHT_LEDGER", "").strip()
    if not text:
        return default_weight_ledger()
    if text.lower() == "off":
        return None
    if not os.path.isabs(text):
        raise InvalidInput(
            f"KLINES_WEIGHT_LEDGER={text!r} is not an absolute path: use a directory such as "
            f"{default_weight_ledger()}, or off"
        )
    return text


def _check_url(url: str, where: str, schemes: tuple[str, ...]) -> None:
    """A REST base URL: one of ``schemes``, a host, and a valid port if any."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput(
            f"{url!r} is not a usable URL (from {where}): use e.g. {schemes[-1]}://host[:port]"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise InvalidInput(f"{url!r} has an invalid port (from {where})") from None
