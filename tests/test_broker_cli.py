"""`cryptoviz broker start|status|stop`: the embedded Apache Kafka broker's life cycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.runtime.processes import free_port

TOPICS = ["crypto-prices", "crypto-news", "crypto-market-sentiment", "crypto-alerts", "crypto-dlq"]


def cryptoviz(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cryptoviz_assets.cli.commands", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no .env
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "TOPIC_"))}
    env["CRYPTOVIZ_VAR_DIR"] = str(tmp_path / "var")
    env["EMBEDDED_KAFKA_PORT"] = str(free_port())
    env["EMBEDDED_KAFKA_CONTROLLER_PORT"] = str(free_port())
    return env


def test_start_status_stop_leaves_nothing_behind(cli_env: dict[str, str]) -> None:
    var = Path(cli_env["CRYPTOVIZ_VAR_DIR"])
    address = f"127.0.0.1:{cli_env['EMBEDDED_KAFKA_PORT']}"

    first = cryptoviz(cli_env, "broker", "start")
    for topic in TOPICS:
        assert f"topic {topic}: 3 partitions (created)" in first
    assert "broker: ready, Apache Kafka (KRaft) PID" in first
    assert address in first

    metadata = AdminClient({"bootstrap.servers": address}).list_topics(timeout=5)
    assert {t: len(metadata.topics[t].partitions) for t in TOPICS} == dict.fromkeys(TOPICS, 3)
    broker_pid = json.loads((var / "run" / "broker.pid").read_text())["pid"]
    broker = psutil.Process(broker_pid)
    # Java listens on dual-stack sockets: loopback shows as ::ffff:127.0.0.1.
    listening = {c.laddr.ip for c in broker.net_connections("tcp") if c.status == "LISTEN"}
    assert listening, "the broker listens"
    assert listening <= {"127.0.0.1", "::ffff:127.0.0.1"}, f"not loopback only: {listening}"
    assert (var / "broker").is_dir()

    # Starting again is idempotent: same process, topics left as they are.
    again = cryptoviz(cli_env, "broker", "start")
    assert "(exists)" in again
    assert "(created)" not in again
    assert f"PID {broker_pid}" in again

    assert "broker: ready" in cryptoviz(cli_env, "broker", "status")
    assert cryptoviz(cli_env, "broker", "stop").strip() == "broker stopped"
    assert not psutil.pid_exists(broker_pid) or broker.status() == psutil.STATUS_ZOMBIE
    assert "broker: stopped" in cryptoviz(cli_env, "broker", "status")
    assert (var / "broker" / "logs" / "meta.properties").exists()  # formatted KRaft storage
    assert (var / "broker" / "cluster-id").read_text().strip()


def test_external_cluster_starts_nothing_embedded(
    cli_env: dict[str, str], broker: EmbeddedBroker
) -> None:
    """With KAFKA_BOOTSTRAP_SERVERS set, topics go to that cluster and no broker starts."""
    cli_env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    cli_env["TOPIC_DLQ"] = "external-dlq-check"
    out = cryptoviz(cli_env, "broker", "start")
    assert f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}: no embedded broker." in out
    assert "broker: stopped" in out
    var = Path(cli_env["CRYPTOVIZ_VAR_DIR"])
    assert not (var / "run" / "broker.pid").exists()
    assert not (var / "broker").exists()
    topics = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=5)
    assert "external-dlq-check" in topics.topics


def test_stop_all_stops_the_broker(cli_env: dict[str, str]) -> None:
    cryptoviz(cli_env, "broker", "start")
    assert cryptoviz(cli_env, "stop").strip() == "stopped: broker"
    assert cryptoviz(cli_env, "stop").strip() == "stopped: nothing was running"


def test_start_refuses_a_port_taken_by_something_else(
    cli_env: dict[str, str], broker: EmbeddedBroker
) -> None:
    cli_env["EMBEDDED_KAFKA_PORT"] = str(broker.port)
    result = subprocess.run(
        [sys.executable, "-m", "cryptoviz_assets.cli.commands", "broker", "start"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"port {broker.port} is taken by another process" in result.stderr
