"""Settings: one place, read from the environment and .env, secrets never shown."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from cryptoviz_assets.settings import Settings, SourceMode

SECRETS = {
    "KAFKA_SASL_PASSWORD": "sasl-pw-8f3a1c",
    "KAFKA_SSL_KEY_PASSWORD": "key-pw-77e2b9",
    "COINGECKO_API_KEY": "CG-secret-1d9f",
    "COINMARKETCAP_API_KEY": "cmc-secret-5b2e",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run in an empty directory (no .env) with no project variables set."""
    for name in [*list(Settings.model_fields), "CRYPTOVIZ_VAR_DIR"]:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.usefixtures("clean_env")
def test_defaults_describe_the_offline_setup() -> None:
    settings = Settings()
    assert settings.uses_embedded_broker
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.source_mode is SourceMode.REPLAY
    assert settings.topics == {
        "prices": "crypto-prices",
        "news": "crypto-news",
        "market_sentiment": "crypto-market-sentiment",
        "alerts": "crypto-alerts",
        "klines": "crypto-klines",
        "dlq": "crypto-dlq",
    }
    assert settings.var_dir.name == "var"
    assert settings.lake_uri == str(settings.var_dir / "lake")
    assert settings.warehouse_path == settings.var_dir / "warehouse" / "cryptoviz.duckdb"
    assert settings.dagster_home == settings.var_dir / "dagster"
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "127.0.0.1:19092",
        "security.protocol": "PLAINTEXT",
    }


def test_environment_overrides_dotenv_which_overrides_defaults(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "KAFKA_TOPIC_PARTITIONS=6\nSPARK_MASTER=spark://dotenv:7077\nSOURCE_MODE=live\n"
    )
    monkeypatch.setenv("SPARK_MASTER", "spark://env:7077")
    settings = Settings()
    assert settings.kafka_topic_partitions == 6  # from .env
    assert settings.spark_master == "spark://env:7077"  # environment wins
    assert settings.source_mode is SourceMode.LIVE


def test_external_cluster_with_sasl_ssl(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1.example:9093,b2.example:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "cryptoviz")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SECRETS["KAFKA_SASL_PASSWORD"])
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", "/etc/ssl/ca.pem")
    settings = Settings()
    assert not settings.uses_embedded_broker
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "b1.example:9093,b2.example:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "cryptoviz",
        "sasl.password": SECRETS["KAFKA_SASL_PASSWORD"],
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }


def test_blank_bootstrap_servers_means_embedded(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "  ")
    assert Settings().uses_embedded_broker


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KAFKA_TOPIC_PARTITIONS", "0"),
        ("SOURCE_MODE", "sometimes"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS-ish"),
        ("COINGECKO_POLL_SECONDS", "soon"),
        ("COINMARKETCAP_POLL_SECONDS", "90"),  # cron cannot run every 90 s
    ],
)
def test_invalid_values_fail_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert name.lower() in str(error.value)


def test_secrets_never_printed_or_logged(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings()

    shown = [repr(settings), str(settings), str(settings.describe()), settings.model_dump_json()]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("cryptoviz.test").info("settings: %s", settings)
    shown.append(caplog.text)
    cli = subprocess.run(
        [sys.executable, "-m", "cryptoviz_assets.cli.commands", "settings"],
        capture_output=True,
        text=True,
        check=True,
    )
    shown += [cli.stdout, cli.stderr]

    for text in shown:
        for secret in SECRETS.values():
            assert secret not in text
    # The values are there for the clients that need them, and the CLI shows they are set.
    assert settings.coinmarketcap_api_key is not None
    assert settings.coinmarketcap_api_key.get_secret_value() == SECRETS["COINMARKETCAP_API_KEY"]
    assert "COINMARKETCAP_API_KEY=**********" in cli.stdout
    assert "KAFKA_SASL_USERNAME=" in cli.stdout
    # Names as set in the environment, values as the code uses them.
    assert f"CRYPTOVIZ_VAR_DIR={settings.var_dir}" in cli.stdout
    assert f"LAKE_ROOT={settings.var_dir / 'lake'}" in cli.stdout
    assert "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092" in cli.stdout
