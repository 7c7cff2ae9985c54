"""Settings from the environment; command-line flags win. The only module that reads it.

:class:`Settings` is resolved once, at a flow's entry (or a command's), from ``KLINES_*``
variables and flags. One switch has to be read earlier: the task runner of the ingest flow
(``KLINES_TASK_RUNNER``, :func:`select_task_runner`), because Prefect fixes a flow's task
runner when the flow is defined, at import.

Scaling switches (docs/scaling.md):

- ``KLINES_TASK_RUNNER``: ``thread`` (default; ``KLINES_FETCH_WORKERS`` threads, default 4)
  or ``dask`` (prefect-dask: ``KLINES_DASK_ADDRESS`` of a cluster, else a temporary local
  one of ``KLINES_DASK_WORKERS`` processes, default 2; each worker process rebuilds its own
  REST client, hence its own weight budget).
- ``KLINES_WAREHOUSE``: only ``duckdb`` is implemented; ``ducklake`` and ``motherduck`` are
  documented but refused (their DuckDB 2.0 clients are not available to this project).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from exchange.archive import ArchiveConfig
from exchange.config import RestConfig
from exchange.errors import InvalidInput
from exchange.markets import DEFAULT_MARKET, DEFAULT_NETWORK, MARKETS, MarketSpec, check_network
from exchange.ws_events import check_ws_url

DATA_DIR = Path("data")
# A series with nothing stored starts this many candles before now (1,000 candles:
# about 16.7 hours of 1m, 41.7 days of 1h, 2.7 years of 1d), bounded by the listing date.
DEFAULT_LOOKBACK_CANDLES = 1000


def default_db(network: str) -> str:
    """``data/klines.duckdb`` for mainnet, ``data/klines-testnet.duckdb`` for the testnet:
    the testnet's synthetic prices never land in a mainnet file by default."""
    suffix = "" if network == DEFAULT_NETWORK else f"-{network}"
    return str(DATA_DIR / f"klines{suffix}.duckdb")


def default_weight_ledger() -> str:
    """Where this user's processes share the host's REST weight budget (``$TMPDIR``)."""
    return str(Path(tempfile.gettempdir()) / f"klines-weight-{os.getuid()}")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs that is not a per-run parameter.

    URLs come from the market's description for ``network`` (:mod:`exchange.markets`)
    unless overridden: ``rest_url`` / ``ws_url`` / ``archive_url`` (``KLINES_REST_URL`` ...,
    or the flags) for every market of the run, ``urls`` for one market
    (``KLINES_REST_URL_SPOT``, ``KLINES_WS_URL_COINM`` ...: ``(kind, market) -> url``).
    """

    network: str = DEFAULT_NETWORK
    market: str = DEFAULT_MARKET  # one market or several, comma-separated: "usdm,spot"
    rest_url: str | None = None
    ws_url: str | None = None
    archive_url: str | None = None
    urls: Mapping[tuple[str, str], str] = field(default_factory=dict)
    db_path: str = ""
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
        """Read ``KLINES_*`` variables, then apply non-None ``flags`` on top.

        Raises:
            InvalidInput: a variable or flag that cannot be used (one line naming it).
        """
        env = os.environ if env is None else env
        network = check_network(
            str(flags.pop("network", None) or env.get("KLINES_NETWORK") or DEFAULT_NETWORK)
        )
        urls = {
            (what, name): env[f"KLINES_{what.upper()}_URL_{name.upper()}"]
            for what in ("rest", "ws", "archive")
            for name in MARKETS
            if env.get(f"KLINES_{what.upper()}_URL_{name.upper()}")
        }
        base = cls(
            network=network,
            market=env.get("KLINES_MARKET") or DEFAULT_MARKET,
            rest_url=env.get("KLINES_REST_URL") or None,
            ws_url=env.get("KLINES_WS_URL") or None,
            archive_url=env.get("KLINES_ARCHIVE_URL") or None,
            urls=urls,
            db_path=env.get("KLINES_DB") or default_db(network),
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
        check_warehouse(env)
        if isinstance(flags.get("market"), list | tuple):  # a flow's parameter: ["usdm", "spot"]
            flags["market"] = ",".join(flags["market"])  # type: ignore[arg-type]
        settings = replace(base, **{k: v for k, v in flags.items() if v is not None})
        if settings.rest_url:
            _check_url(settings.rest_url, "KLINES_REST_URL or --rest-url", ("http", "https"))
        if settings.ws_url:
            check_ws_url(settings.ws_url)
        if settings.archive_url:
            _check_url(settings.archive_url, "KLINES_ARCHIVE_URL", ("http", "https"))
        for (what, name), url in settings.urls.items():
            where = f"KLINES_{what.upper()}_URL_{name.upper()}"
            if what == "ws":
                check_ws_url(url)
            else:
                _check_url(url, where, ("http", "https"))
        return settings

    def rest_url_for(self, market: MarketSpec) -> str:
        """The REST base URL of ``market`` on this network, overrides applied."""
        return (
            self.urls.get(("rest", market.name)) or self.rest_url or market.rest_url(self.network)
        )

    def ws_url_for(self, market: MarketSpec) -> str:
        """The stream base URL of ``market`` on this network, overrides applied."""
        return self.urls.get(("ws", market.name)) or self.ws_url or market.ws_url(self.network)

    def archive_url_for(self, market: MarketSpec) -> str | None:
        """The bulk archive of ``market``, or None: the network has none (the testnet), or
        REST points elsewhere than Binance and no archive was named for that host."""
        chosen = self.urls.get(("archive", market.name)) or self.archive_url
        if chosen:
            return chosen
        own_rest = self.rest_url_for(market) == market.rest_url(self.network)
        return market.archive_url(self.network) if own_rest else None

    def rest_config(self, market: MarketSpec = MARKETS[DEFAULT_MARKET]) -> RestConfig:
        """How to talk to ``market``'s REST API; markets of one weight pool on Binance's own
        hosts share one budget key (USDⓈ-M and COIN-M: one budget per IP)."""
        url = self.rest_url_for(market)
        own = url == market.rest_url(self.network)
        return RestConfig(
            market=market,
            base_url=url,
            read_timeout=self.read_timeout,
            max_retries=self.http_retries,
            backoff_base=self.backoff_base,
            weight_share=self.weight_share,
            weight_ledger=self.weight_ledger,
            weight_key=f"{market.weight_pool}@binance-{self.network}" if own else "",
            api_key=self.api_key,
        )

    def archive_config(
        self, market: MarketSpec = MARKETS[DEFAULT_MARKET], source: str = "auto"
    ) -> ArchiveConfig | None:
        """How to download ``market``'s archive files; None where there is no archive.
        ``--source archive`` takes Binance's archive even when REST points elsewhere."""
        url = self.archive_url_for(market)
        if url is None and source == "archive":
            url = market.archive_url(self.network)
        if url is None:
            return None
        return ArchiveConfig(
            base_url=url,
            read_timeout=max(self.read_timeout, 30.0),
            max_retries=min(self.http_retries, 4),
            backoff_base=self.backoff_base,
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


TASK_RUNNERS = ("thread", "dask")
WAREHOUSES = ("duckdb",)
_DOCUMENTED_WAREHOUSES = ("ducklake", "motherduck")


class UnsupportedSetting(ValueError):
    """A KLINES_* switch names an engine this installation cannot use."""


def select_task_runner(env: Mapping[str, str] | None = None) -> Any:
    """The Prefect task runner that ``KLINES_TASK_RUNNER`` selects.

    Raises:
        UnsupportedSetting: an unknown runner, or ``dask`` without prefect-dask installed.
    """
    env = os.environ if env is None else env
    kind = (env.get("KLINES_TASK_RUNNER") or "thread").strip().lower()
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=int(env.get("KLINES_FETCH_WORKERS") or 4))
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:
            raise UnsupportedSetting(
                "KLINES_TASK_RUNNER=dask needs prefect-dask: install the extra "
                "(uv sync --extra dask, or pip install 'binance-klines-etl[dask]')"
            ) from exc
        address = env.get("KLINES_DASK_ADDRESS")
        if address:
            return DaskTaskRunner(address=address)
        workers = int(env.get("KLINES_DASK_WORKERS") or 2)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    raise UnsupportedSetting(f"KLINES_TASK_RUNNER={kind!r} is not one of {', '.join(TASK_RUNNERS)}")


def check_warehouse(env: Mapping[str, str] | None = None) -> str:
    """The warehouse engine that ``KLINES_WAREHOUSE`` selects (only ``duckdb`` works).

    Raises:
        UnsupportedSetting: a documented but unavailable engine, or an unknown one.
    """
    env = os.environ if env is None else env
    kind = (env.get("KLINES_WAREHOUSE") or "duckdb").strip().lower()
    if kind in WAREHOUSES:
        return kind
    if kind in _DOCUMENTED_WAREHOUSES:
        raise UnsupportedSetting(
            f"KLINES_WAREHOUSE={kind} is not available: its extension or service does not "
            "accept DuckDB 2.0 clients here (see docs/scaling.md); use duckdb"
        )
    raise UnsupportedSetting(f"KLINES_WAREHOUSE={kind!r} is not one of {', '.join(WAREHOUSES)}")
