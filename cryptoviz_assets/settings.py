"""All CryptoViz settings in one place.

Values come from the environment, then an optional `.env` file in the working directory,
then the defaults below. The defaults describe the offline developer setup: an embedded
Kafka-protocol broker on loopback, the replay server instead of the live APIs, and every
file under the project's `var/` directory.

Secrets are `SecretStr`: they print as `**********` in reprs, logs and `cryptoviz settings`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SourceMode(StrEnum):
    """Where the collectors get their data."""

    LIVE = "live"  # the real public APIs
    REPLAY = "replay"  # the local replay server of recorded payloads


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
        description="Parquet lake root: a local path (default var/lake) or an object-store URI.",
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

    topic_prices: str = "crypto-prices"
    topic_news: str = "crypto-news"
    topic_market_sentiment: str = "crypto-market-sentiment"
    topic_alerts: str = "crypto-alerts"
    topic_dlq: str = "crypto-dlq"

    # --- Spark -----------------------------------------------------------------------
    spark_master: str = "local[2]"

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

    # --- Dagster ---------------------------------------------------------------------
    dagster_port: int = Field(default=3000, ge=1, le=65535)

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
            "dlq": self.topic_dlq,
        }

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

    @property
    def warehouse_path(self) -> Path:
        return self.duckdb_path or self.var_dir / "warehouse" / "cryptoviz.duckdb"

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
        """Every setting as printable text, secrets masked: what `cryptoviz settings` shows."""
        shown = {}
        for name, value in self.model_dump().items():
            shown[name.upper()] = "" if value is None else str(value)
        return shown


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


def get_settings(**overrides: Any) -> Settings:
    """Read the settings afresh (environment and `.env` may change between calls)."""
    return Settings(**overrides)
