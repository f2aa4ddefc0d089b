"""The embedded Kafka-protocol broker used for development, the demo and CI.

Genuine Apache Kafka cannot be installed from a package registry, so the local default is
noida-db, a single binary shipped in a PyPI wheel that speaks the Kafka protocol. We run
its binary directly (its `noida-db` console script is a wrapper that would leave the broker
behind when killed), bound to 127.0.0.1 with its data under `var/broker`. Point
KAFKA_BOOTSTRAP_SERVERS at a real cluster and none of this starts.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from cryptoviz_assets.processes import Daemon, port_in_use, wait_until
from cryptoviz_assets.settings import Settings

READY_TIMEOUT_SECONDS = 30.0


def broker_binary() -> Path:
    binary = Path(str(files("noida_db").joinpath("noida-db")))
    if not binary.is_file():
        raise FileNotFoundError(f"noida-db binary not found at {binary}; is noida-db installed?")
    binary.chmod(0o755)
    return binary


@dataclass(frozen=True)
class EmbeddedBroker:
    """One noida-db process serving Kafka on 127.0.0.1:`port` from `data_dir`."""

    data_dir: Path
    port: int
    run_dir: Path
    name: str = "broker"

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBroker:
        return cls(
            data_dir=settings.broker_data_dir,
            port=settings.embedded_kafka_port,
            run_dir=settings.run_dir,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def daemon(self) -> Daemon:
        return Daemon(self.name, self.run_dir)

    def start(self) -> int:
        """Start the broker (if it is not running) and wait until it answers metadata."""
        if (proc := self.daemon.process()) is not None:
            self.wait_ready()
            return proc.pid
        if port_in_use(self.port):
            raise RuntimeError(
                f"port {self.port} is taken by another process; set EMBEDDED_KAFKA_PORT "
                "or stop it (`make stop`)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(broker_binary()),
            "start",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--only",
            "kafka",
            "--kafka-port",
            str(self.port),
        ]
        pid = self.daemon.start(argv, stop_signal=signal.SIGTERM)
        try:
            self.wait_ready()
        except TimeoutError:
            self.stop()
            raise
        return pid

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        wait_until(self.is_ready, timeout, interval=0.2, what=f"broker on {self.bootstrap_servers}")

    def is_ready(self) -> bool:
        """True when the broker process is alive and answers a metadata request."""
        if not self.daemon.is_running() or not port_in_use(self.port):
            return False
        return broker_answers(self.bootstrap_servers)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, then wait: noida-db saves its data on a graceful stop."""
        return self.daemon.stop(timeout=timeout)

    def status(self) -> str:
        proc = self.daemon.process()
        if proc is None:
            return f"broker: stopped (data in {self.data_dir})"
        state = "ready" if self.is_ready() else "starting"
        return f"broker: {state}, PID {proc.pid}, {self.bootstrap_servers}, data in {self.data_dir}"


def broker_answers(bootstrap_servers: str, client_config: dict[str, Any] | None = None) -> bool:
    """One short metadata request: does a Kafka broker answer at `bootstrap_servers`?"""
    config = dict(client_config or {})
    config["bootstrap.servers"] = bootstrap_servers
    try:
        metadata = AdminClient(config).list_topics(timeout=2)
    except KafkaException:  # no answer in time (a bad configuration raises, named)
        return False
    return bool(metadata.brokers)
