"""Shared fixtures: a real Apache Kafka broker on free loopback ports, isolated settings."""

from __future__ import annotations

import shutil
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.runtime.processes import Daemon, free_port
from cryptoviz_assets.settings import PROJECT_ROOT, Settings

SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"


def start_broker(root: Path) -> EmbeddedBroker:
    ports = {"port": free_port(), "controller_port": free_port()}
    broker = EmbeddedBroker(data_dir=root / "broker", run_dir=root / "run", **ports)
    broker.start()
    return broker


@pytest.fixture(scope="session", autouse=True)
def interruptible_session() -> None:
    """Give pytest a terminal's Ctrl-C even when CI starts it from `cmd &` (SIGINT ignored).

    Dagster's in-process runs map SIGTERM to SIGINT's handler; with SIGINT ignored, SIGTERM
    became ignored too, and every child started afterwards inherited that: Dagster's own
    compute-log `tail -F` outlived its runs, and a `cryptoviz docs` did not stop on SIGTERM.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, stop any process a test started by PID file under the
    session's temp folders (brokers, dagster dev, replay servers) whose fixture did not, and
    say which: `make stop` only knows the project's own var/run."""
    yield
    for pid_file in sorted(tmp_path_factory.getbasetemp().rglob("*.pid")):
        if Daemon(pid_file.stem, pid_file.parent).stop(timeout=30.0):
            warnings.warn(f"stopped a process a test left running: {pid_file}", stacklevel=1)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded broker for the whole test session."""
    embedded = start_broker(tmp_path_factory.mktemp("session-broker"))
    yield embedded
    embedded.stop()


@pytest.fixture
def project_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, broker: EmbeddedBroker
) -> Settings:
    """Point every setting at the test broker and a private var/ directory."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    monkeypatch.setenv("CRYPTOVIZ_VAR_DIR", str(tmp_path / "var"))
    # Unique topic names per test, so tests never see each other's records.
    suffix = tmp_path.name.replace("_", "-")
    for role in ("prices", "news", "market_sentiment", "alerts", "klines", "dlq"):
        monkeypatch.setenv(f"TOPIC_{role.upper()}", f"{role}-{suffix}")
    return Settings()


@pytest.fixture
def dagster_instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DagsterInstance]:
    """A real Dagster instance configured by the project's own dagster.yaml (temp home)."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        yield instance
