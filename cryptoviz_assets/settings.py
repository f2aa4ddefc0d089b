"""All CryptoViz settings in one place.

Values come from the environment, then an optional `.env` file in the working directory,
then the defaults below. The defaults describe the offline developer setup: an embedded
Apache Kafka broker on loopback, the replay server instead of the live APIs, and every
file under the project's `var/` directory.

Secrets are `SecretStr`: they print as `**********` in reprs, logs and `cryptoviz settings`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SourceMode(StrEnum):
    """Where the collectors get their data."""

    LIVE = "live"  # the real public APIs
    REPLAY = "replay"  # the local replay server of recorded payloads


class ReplayScenario(StrEnum):
    """What the replay server plays."""

    MARKET = "market"  # a moving market built on the recorded payloads, with injected events
    RECORDED = "recorded"  # the recorded payloads exactly as the services sent them


# The top 20 coins of the recorded CoinMarketCap snapshot, as CoinGecko ids: the replayed
# market knows every one of them, so replay and live mode poll the same list.
DEFAULT_COIN_IDS = [
    "bitcoin", "ethereum", "ripple", "tether", "bitcoin-cash", "bitcoin-cash-sv", "litecoin",
    "binancecoin", "eos", "tezos", "stellar", "cardano", "chainlink", "monero",
    "crypto-com-chain", "tron", "leo-token", "huobi-token", "ethereum-classic", "dash",
]  # fmt: skip

LIVE_NEWS_FEEDS = {
    "coindesk": "https://www.coindesk.com/arc/outboundfeeds/rss/",
    "cointelegraph": "https://cointelegraph.com/rss",
}
# In replay mode the CoinMarketCap collector sends this key; the replay server accepts any.
REPLAY_CMC_KEY = "replay-mode-dummy-key"

LIVE_BINANCE_URL = "https://api.binance.com"
# Live: the five largest coins against USDT. Replay: the pairs the replay server has
# recorded minutes of (Binance.US, March 2023): bitcoin against three dollars, USDC among them.
DEFAULT_BINANCE_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT"]
REPLAY_BINANCE_SYMBOLS = ["BTCUSD", "BTCUSDC", "BTCUSDT"]
# The recorded minute the replayed klines start from: 19 minutes before BTCUSDC first trades
# 2% above BTCUSD (the USDC depeg), so the demo's 40 minutes see its premium reach ~6%.
REPLAY_KLINES_START = datetime(2023, 3, 11, 4, 0, tzinfo=UTC)


class KafkaSecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # --- Locations -------------------------------------------------------------------
    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        validation_alias="CRYPTOVIZ_VAR_DIR",
        description="Root of everything the project writes locally (broker data, PIDs, logs).",
    )
    lake_root: str = Field(
        default="",
        description="Delta lake root: a local path (default var/lake) or an object-store URI.",
    )
    duckdb_path: Path | None = Field(
        default=None, description="DuckDB warehouse file (default var/warehouse/cryptoviz.duckdb)."
    )

    # --- Kafka -----------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Bootstrap servers of an external Kafka cluster. Unset: the embedded broker.",
    )
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: str | None = Field(default=None, description="PLAIN, SCRAM-SHA-256, ...")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_ssl_certificate_location: str | None = None
    kafka_ssl_key_location: str | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    embedded_kafka_port: int = Field(default=19092, ge=1, le=65535)
    embedded_kafka_controller_port: int = Field(
        default=19093, ge=1, le=65535, description="The embedded KRaft controller's port."
    )

    topic_prices: str = "crypto-prices"
    topic_news: str = "crypto-news"
    topic_market_sentiment: str = "crypto-market-sentiment"
    topic_alerts: str = "crypto-alerts"
    topic_klines: str = "crypto-klines"
    topic_dlq: str = "crypto-dlq"

    # --- Spark -----------------------------------------------------------------------
    spark_master: str = "local[2]"
    checkpoint_root: str = Field(
        default="", description="Spark checkpoints (default var/checkpoints/<job>)."
    )
    stream_starting_offsets: str = Field(
        default="earliest",
        description="Where a new query starts: earliest, latest or a JSON offsets object. "
        "A query with a checkpoint always resumes from it.",
    )
    stream_max_offsets_per_trigger: int = Field(default=100_000, ge=1)
    stream_fail_on_data_loss: bool = Field(
        default=True,
        description="Stop a query when records it has not read are gone from Kafka "
        "(retention, a deleted topic) instead of skipping them silently.",
    )
    stream_trigger_seconds: float = Field(default=1.0, ge=0)
    stream_price_watermark_seconds: int = Field(
        default=120, ge=0, description="How late a price tick may arrive and still count in bars."
    )
    stream_price_dedup_seconds: int = Field(
        default=600,
        ge=0,
        description="Price event ids are remembered this long (Kafka append time) to drop repeats.",
    )
    stream_news_dedup_seconds: int = Field(
        default=3 * 24 * 3600,
        ge=0,
        description="News and Fear & Greed ids are remembered this long (Kafka append time): "
        "feeds repeat the same items on every poll for days.",
    )
    stream_report_seconds: float = Field(
        default=30.0, ge=0, description="How often a streaming job reports progress to Dagster."
    )
    stream_restart_backoff_seconds: float = Field(
        default=15.0,
        ge=0,
        description="Supervisor backoff after a streaming run fails: this, doubled per "
        "consecutive failure, capped at 10 minutes.",
    )
    stream_supervisor_interval_seconds: int = Field(
        default=30, ge=1, description="How often each streaming supervisor sensor ticks."
    )
    stream_supervised: str = Field(
        default="prices,news,market_sentiment",
        description="Streaming jobs whose supervisor sensor is on by default (comma-separated).",
    )

    # --- Sources ---------------------------------------------------------------------
    source_mode: SourceMode = SourceMode.REPLAY
    replay_port: int = Field(default=18080, ge=1, le=65535)
    coingecko_api_key: SecretStr | None = Field(
        default=None, description="Optional CoinGecko demo key (x-cg-demo-api-key header)."
    )
    coinmarketcap_api_key: SecretStr | None = Field(
        default=None, description="CoinMarketCap key; without it that collector is skipped."
    )
    coingecko_poll_seconds: int = Field(default=60, ge=1)
    coinmarketcap_poll_seconds: int = Field(default=120, ge=1)
    news_poll_seconds: int = Field(default=300, ge=1)
    fear_greed_poll_seconds: int = Field(default=300, ge=1)
    binance_poll_seconds: int = Field(default=60, ge=1)
    coingecko_coin_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_COIN_IDS),
        description="CoinGecko ids the CoinGecko collector polls (comma-separated).",
    )
    coinmarketcap_limit: int = Field(default=20, ge=1, le=200)
    coingecko_base_url: str | None = Field(
        default=None, description="Unset: the real API (live) or the replay server (replay)."
    )
    coinmarketcap_base_url: str | None = None
    fear_greed_base_url: str | None = None
    news_feeds: dict[str, str] | None = Field(
        default=None, description='JSON {"source": "feed URL"}; unset: CoinDesk + Cointelegraph.'
    )
    binance_url: str | None = Field(
        default=None,
        description=f"Binance API base. Unset: {LIVE_BINANCE_URL} (live) or the replay server "
        "(replay).",
    )
    binance_symbols: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Binance pairs the klines collector polls (comma-separated). Unset: "
        f"{','.join(DEFAULT_BINANCE_SYMBOLS)} (live) or {','.join(REPLAY_BINANCE_SYMBOLS)} "
        "(replay: the pairs it has recorded).",
    )
    binance_klines_limit: int = Field(
        default=100, ge=1, le=1000, description="Klines asked per pair and poll (1000 at most)."
    )

    # Resilience: timeouts, retries, breaker, size limit, call budgets per source.
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    http_max_attempts: int = Field(default=4, ge=1)
    retry_initial_wait_seconds: float = Field(default=1.0, ge=0)
    retry_max_wait_seconds: float = Field(
        default=30.0, ge=0, description="Longest backoff; a longer Retry-After fails the run."
    )
    max_response_bytes: int = Field(default=5_000_000, ge=1024)
    breaker_fail_max: int = Field(default=3, ge=1, description="Failed runs before it opens.")
    breaker_reset_seconds: float = Field(default=300.0, ge=0)
    coingecko_calls_per_minute: int = Field(default=30, ge=0)
    coingecko_calls_per_month: int = Field(default=10_000, ge=0)
    coinmarketcap_calls_per_minute: int = Field(default=30, ge=0)
    coinmarketcap_calls_per_month: int = Field(default=10_000, ge=0)
    fear_greed_calls_per_minute: int = Field(default=30, ge=0)
    fear_greed_calls_per_month: int = Field(default=50_000, ge=0)
    news_calls_per_minute: int = Field(default=10, ge=0, description="Per feed.")
    news_calls_per_month: int = Field(default=20_000, ge=0, description="Per feed.")
    binance_calls_per_minute: int = Field(
        default=60, ge=0, description="All pairs together (one call per pair and poll)."
    )
    binance_calls_per_month: int = Field(default=300_000, ge=0, description="All pairs together.")
    seen_retention_days: int = Field(default=30, ge=1, description="How long dedup remembers.")

    # Replay server
    replay_scenario: ReplayScenario = ReplayScenario.MARKET
    replay_seed: int = 42
    replay_tick_seconds: float = Field(default=60.0, gt=0, description="Market snapshot length.")
    replay_klines_start: datetime = Field(
        default=REPLAY_KLINES_START,
        description="The recorded minute the replayed Binance klines start from (one recorded "
        "minute per market minute; recordings cover 2023-03-01 to 2023-03-21 UTC).",
    )

    # --- Marts (dbt, Great Expectations) ---------------------------------------------
    warehouse_build_path: Path | None = Field(
        default=None,
        description="DuckDB file dbt writes (default var/warehouse/build.duckdb); readers use "
        "the published DUCKDB_PATH snapshot, never this one.",
    )
    marts_cron: str = Field(
        default="15 * * * *", description="When the marts rebuild on schedule (cron, UTC)."
    )
    lake_max_staleness_hours: float = Field(
        default=6.0,
        gt=0,
        description="Freshness expectation: the newest lake record is at most this old.",
    )

    # --- Lake maintenance (OPTIMIZE, VACUUM) -------------------------------------------
    lake_maintenance_cron: str = Field(
        default="0 3 * * *",
        description="When the lake's tables are compacted and vacuumed (cron, UTC).",
    )
    lake_vacuum_retention_hours: int = Field(
        default=168,
        ge=0,
        description="VACUUM deletes a replaced file only this long after it was replaced: a "
        "lagging stream, a long query or a time travel may still read it (Delta's default).",
    )
    lake_vacuum_retention_check: bool = Field(
        default=True,
        description="Delta's safety check: refuse a retention shorter than the table's (7 days). "
        "false allows any, 0 included (tests).",
    )

    # --- Dagster ---------------------------------------------------------------------
    dagster_port: int = Field(default=3000, ge=1, le=65535)

    @field_validator("coingecko_coin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("replay_klines_start")
    @classmethod
    def _utc(cls, moment: datetime) -> datetime:
        """A recorded instant without a zone is UTC, as the recordings are."""
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    @field_validator("binance_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        """Pairs as Binance spells them (BTCUSDT); blank is unset (the mode's default)."""
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()] or None
        return value

    @field_validator(
        "coingecko_poll_seconds",
        "coinmarketcap_poll_seconds",
        "news_poll_seconds",
        "fear_greed_poll_seconds",
        "binance_poll_seconds",
    )
    @classmethod
    def _schedulable(cls, seconds: int) -> int:
        """Schedules are cron: an interval must be whole minutes that divide an hour."""
        minutes, rest = divmod(seconds, 60)
        if rest or minutes < 1 or 60 % minutes:
            raise ValueError("must be whole minutes that divide an hour (60, 120, 300, ...)")
        return seconds

    @field_validator("kafka_bootstrap_servers", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    # --- Derived values --------------------------------------------------------------
    @property
    def uses_embedded_broker(self) -> bool:
        """True unless KAFKA_BOOTSTRAP_SERVERS names a cluster of its own."""
        return self.kafka_bootstrap_servers is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.embedded_kafka_port}"

    @property
    def topics(self) -> dict[str, str]:
        """Logical topic role -> configured topic name."""
        return {
            "prices": self.topic_prices,
            "news": self.topic_news,
            "market_sentiment": self.topic_market_sentiment,
            "alerts": self.topic_alerts,
            "klines": self.topic_klines,
            "dlq": self.topic_dlq,
        }

    @property
    def replay_url(self) -> str:
        return f"http://127.0.0.1:{self.replay_port}"

    @property
    def is_replay(self) -> bool:
        return self.source_mode is SourceMode.REPLAY

    @property
    def coingecko_url(self) -> str:
        live = "https://api.coingecko.com/api/v3"
        return self.coingecko_base_url or (f"{self.replay_url}/api/v3" if self.is_replay else live)

    @property
    def coinmarketcap_url(self) -> str:
        live = "https://pro-api.coinmarketcap.com"
        return self.coinmarketcap_base_url or (self.replay_url if self.is_replay else live)

    @property
    def fear_greed_url(self) -> str:
        live = "https://api.alternative.me"
        return self.fear_greed_base_url or (self.replay_url if self.is_replay else live)

    @property
    def binance_api_url(self) -> str:
        """BINANCE_URL as the collector uses it: set, or the replay server, or the live API."""
        url = self.binance_url or (self.replay_url if self.is_replay else LIVE_BINANCE_URL)
        return url.rstrip("/")

    @property
    def binance_pairs(self) -> list[str]:
        """BINANCE_SYMBOLS as the collector uses it: set, or the mode's default pairs."""
        if self.binance_symbols:
            return list(self.binance_symbols)
        return list(REPLAY_BINANCE_SYMBOLS if self.is_replay else DEFAULT_BINANCE_SYMBOLS)

    @property
    def news_feed_urls(self) -> dict[str, str]:
        """Feed source name -> URL. Replay mode serves the same paths on loopback."""
        if self.news_feeds is not None:
            return dict(self.news_feeds)
        if not self.is_replay:
            return dict(LIVE_NEWS_FEEDS)
        return {
            "coindesk": f"{self.replay_url}/arc/outboundfeeds/rss/",
            "cointelegraph": f"{self.replay_url}/rss",
        }

    def coinmarketcap_key(self) -> str | None:
        """The key to send; replay mode has a dummy one so the collector runs offline."""
        if self.coinmarketcap_api_key is not None:
            return self.coinmarketcap_api_key.get_secret_value() or None
        return REPLAY_CMC_KEY if self.is_replay else None

    @property
    def state_dir(self) -> Path:
        """Collector state that must outlive a run: budgets, breakers, seen event ids."""
        return self.var_dir / "state"

    @property
    def run_dir(self) -> Path:
        """PID files and logs of the processes the project starts."""
        return self.var_dir / "run"

    @property
    def broker_data_dir(self) -> Path:
        return self.var_dir / "broker"

    @property
    def dagster_home(self) -> Path:
        return self.var_dir / "dagster"

    @property
    def lake_uri(self) -> str:
        return self.lake_root or str(self.var_dir / "lake")

    def checkpoint_dir(self, job: str) -> str:
        """Spark checkpoint location of one streaming job."""
        root = self.checkpoint_root or str(self.var_dir / "checkpoints")
        return f"{root.rstrip('/')}/{job}"

    @property
    def warehouse_path(self) -> Path:
        return self.duckdb_path or self.var_dir / "warehouse" / "cryptoviz.duckdb"

    @property
    def warehouse_build_file(self) -> Path:
        """The private file dbt builds into; published to `warehouse_path` after a build."""
        return self.warehouse_build_path or self.var_dir / "warehouse" / "build.duckdb"

    def kafka_client_config(self) -> dict[str, Any]:
        """librdkafka settings shared by producers, consumers and admin clients.

        The result holds secrets in clear text: pass it to a client, never log it.
        """
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.kafka_security_protocol.value,
        }
        optional = {
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": _reveal(self.kafka_sasl_password),
            "ssl.ca.location": self.kafka_ssl_ca_location,
            "ssl.certificate.location": self.kafka_ssl_certificate_location,
            "ssl.key.location": self.kafka_ssl_key_location,
            "ssl.key.password": _reveal(self.kafka_ssl_key_password),
        }
        config.update({key: value for key, value in optional.items() if value})
        return config

    def describe(self) -> dict[str, str]:
        """Every setting by its environment name, as the code uses it (defaults resolved),
        secrets masked: what `cryptoviz settings` shows."""
        fields = type(self).model_fields
        shown = {}
        for name, value in self.model_dump().items():
            alias = fields[name].validation_alias
            shown[str(alias) if alias else name.upper()] = "" if value is None else str(value)
        shown |= {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "LAKE_ROOT": self.lake_uri,
            "DUCKDB_PATH": str(self.warehouse_path),
            "WAREHOUSE_BUILD_PATH": str(self.warehouse_build_file),
            "CHECKPOINT_ROOT": self.checkpoint_dir("").rstrip("/"),
            "BINANCE_URL": self.binance_api_url,
            "BINANCE_SYMBOLS": ",".join(self.binance_pairs),
        }
        return shown


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


def get_settings(**overrides: Any) -> Settings:
    """Read the settings afresh (environment and `.env` may change between calls)."""
    return Settings(**overrides)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block, then restore what was there.

    For libraries that read os.environ rather than taking arguments (dbt, and settings
    read afresh by code the block runs).
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
