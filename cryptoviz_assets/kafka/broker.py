"""The embedded Apache Kafka broker used for development, the demo and CI.

Apache Kafka itself (the `kafka.Kafka` server from Maven Central, see `jvm/kafka/pom.xml`),
run as a single KRaft node that is both broker and controller, bound to 127.0.0.1, with its
storage formatted once under `var/broker` (the cluster id is kept there). The same class
runs each node of a small local cluster (`quorum` names every controller), which is how the
tests prove the code on more than one broker. Point KAFKA_BOOTSTRAP_SERVERS at a real
cluster and none of this starts.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from cryptoviz_assets.runtime import jvm
from cryptoviz_assets.runtime.processes import Daemon, port_in_use, wait_until
from cryptoviz_assets.settings import PROJECT_ROOT, Settings

READY_TIMEOUT_SECONDS = 60.0
LOG_CONFIG = PROJECT_ROOT / "jvm" / "kafka" / "log4j2.properties"
# What bin/kafka-server-start.sh and kafka-run-class.sh would pass, with a smaller heap.
JVM_OPTIONS = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
    f"-Dlog4j2.configurationFile={LOG_CONFIG}",
]


@dataclass(frozen=True)
class EmbeddedBroker:
    """One Apache Kafka KRaft node on 127.0.0.1:`port` (controller on `controller_port`).

    Alone (the default) it is a whole cluster: replication factor 1. In a local cluster
    every node gets the same `quorum` ((node id, controller port) of each controller), the
    same `cluster_id`, and the cluster's replication settings.
    """

    data_dir: Path
    port: int
    run_dir: Path
    controller_port: int | None = None  # default: port + 1
    node_id: int = 1
    quorum: tuple[tuple[int, int], ...] = ()  # default: this node alone
    cluster_id: str | None = None  # default: made once and kept in data_dir/cluster-id
    replication_factor: int = 1
    min_insync_replicas: int = 1
    partitions: int = 3
    name: str = "broker"

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBroker:
        return cls(
            data_dir=settings.broker_data_dir,
            port=settings.embedded_kafka_port,
            controller_port=settings.embedded_kafka_controller_port,
            run_dir=settings.run_dir,
            partitions=settings.kafka_topic_partitions,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def daemon(self) -> Daemon:
        return Daemon(self.name, self.run_dir)

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    def start(self) -> int:
        """Start the node (if it is not running) and wait until it answers metadata."""
        pid = self.launch()
        try:
            self.wait_ready()
        except (TimeoutError, RuntimeError):
            self.stop()
            raise
        return pid

    def launch(self) -> int:
        """Start the process without waiting: the nodes of a cluster elect a controller
        only once a majority of them runs, so none is ready until then."""
        if (proc := self.daemon.process()) is not None:
            return proc.pid
        ports = {"EMBEDDED_KAFKA_PORT": self.port}
        ports["EMBEDDED_KAFKA_CONTROLLER_PORT"] = self._controller
        for setting, port in ports.items():
            if port_in_use(port):
                raise RuntimeError(
                    f"port {port} is taken by another process; set {setting} or stop it "
                    "(`make stop`)"
                )
        self.write_config()
        self.format_storage()
        argv = [jvm.java(), *JVM_OPTIONS, "-cp", jvm.classpath(jvm.KAFKA), "kafka.Kafka"]
        return self.daemon.start([*argv, str(self.config_file)], stop_signal=signal.SIGTERM)

    def write_config(self) -> None:
        """server.properties for this node, written afresh at every start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        quorum = self.quorum or ((self.node_id, self._controller),)
        voters = ",".join(f"{node}@127.0.0.1:{port}" for node, port in quorum)
        config = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self._controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": str(self.partitions),
            "default.replication.factor": str(self.replication_factor),
            "min.insync.replicas": str(self.min_insync_replicas),
            "offsets.topic.replication.factor": str(self.replication_factor),
            "transaction.state.log.replication.factor": str(self.replication_factor),
            "transaction.state.log.min.isr": str(self.min_insync_replicas),
            # Small internal topics: 50 partitions each cost seconds on a 2-core machine.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": str(self.replication_factor),
            "share.coordinator.state.topic.min.isr": str(self.min_insync_replicas),
            "group.initial.rebalance.delay.ms": "0",
            # A node restarted after a crash is fenced until its old session expires
            # (default 9 s); on one machine a 3 s session is ample.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "num.io.threads": "4",
            "num.network.threads": "2",
        }
        lines = [f"{key}={value}" for key, value in config.items()]
        self.config_file.write_text("\n".join(lines) + "\n")

    def format_storage(self) -> None:
        """Format the log directory once (KRaft needs it); later starts keep its data."""
        if (self.log_dir / "meta.properties").exists():
            return
        argv = [jvm.java(), "-Xmx256m", f"-Dlog4j2.configurationFile={LOG_CONFIG}"]
        argv += ["-cp", jvm.classpath(jvm.KAFKA), "kafka.tools.StorageTool", "format"]
        argv += ["-t", self.ensure_cluster_id(), "-c", str(self.config_file)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"formatting {self.log_dir} failed: {done.stdout}{done.stderr}")

    def ensure_cluster_id(self) -> str:
        """The cluster id: given, or made once (Kafka's form: a UUID in URL-safe base64)."""
        if self.cluster_id:
            return self.cluster_id
        kept = self.data_dir / "cluster-id"
        if kept.exists():
            return kept.read_text().strip()
        cluster_id = new_cluster_id()
        kept.write_text(cluster_id + "\n")
        return cluster_id

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def _controller(self) -> int:
        return self.controller_port or self.port + 1

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        what = f"broker on {self.bootstrap_servers}"
        wait_until(self.is_ready, timeout, interval=0.25, what=what)

    def is_ready(self) -> bool:
        """True when the process is alive and this node answers a metadata request as a
        registered broker. A process that died raises, with the end of its log."""
        if not self.daemon.is_running():
            raise RuntimeError(f"{self.name} exited during start:\n{self.log_tail()}")
        if not port_in_use(self.port):
            return False
        return broker_answers(self.bootstrap_servers, broker_id=self.node_id)

    def log_tail(self, lines: int = 20) -> str:
        if not self.daemon.log_file.exists():
            return "(no log)"
        return "\n".join(self.daemon.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM (a controlled shutdown that flushes the logs), then wait."""
        return self.daemon.stop(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown, no flush."""
        if (proc := self.daemon.process()) is not None:
            proc.kill()
            proc.wait(timeout=30)
        self.daemon.pid_file.unlink(missing_ok=True)

    def status(self) -> str:
        proc = self.daemon.process()
        if proc is None:
            return f"broker: stopped (data in {self.data_dir})"
        try:
            state = "ready" if self.is_ready() else "starting"
        except RuntimeError:
            state = "exited"
        return (
            f"broker: {state}, Apache Kafka (KRaft) PID {proc.pid}, {self.bootstrap_servers}, "
            f"data in {self.data_dir}"
        )


def new_cluster_id() -> str:
    """A KRaft cluster id like `kafka-storage random-uuid` prints (never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def broker_answers(
    bootstrap_servers: str,
    client_config: dict[str, Any] | None = None,
    broker_id: int | None = None,
) -> bool:
    """One short metadata request: does a Kafka broker answer at `bootstrap_servers`
    (and, given `broker_id`, does that broker appear registered in the answer)?"""
    config = dict(client_config or {})
    config["bootstrap.servers"] = bootstrap_servers
    try:
        metadata = AdminClient(config).list_topics(timeout=2)
    except KafkaException:  # no answer in time (a bad configuration raises, named)
        return False
    if broker_id is not None:
        return broker_id in metadata.brokers
    return bool(metadata.brokers)
