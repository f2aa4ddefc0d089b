"""The embedded Apache Kafka broker's own produce and consume rates on this machine.

Run: .venv/bin/python benchmarks/kafka_perf.py [records] [record_bytes]
(defaults 2,000,000 and 300, about the size of a price tick). Starts a private broker (the
project's EmbeddedBroker, same settings as `cryptoviz broker start`) in a temporary
directory, then runs Kafka's own perf-test tools from the same jars:
`org.apache.kafka.tools.ProducerPerformance` (acks=all, idempotent, as the collectors
produce; no rate limit) and `org.apache.kafka.tools.ConsumerPerformance`, and prints their
summary lines. The tools, the broker and nothing else share the machine's two cores.
The broker is always stopped, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.runtime import jvm
from cryptoviz_assets.runtime.processes import free_port

TOPIC = "perf"


def kafka_tool(main_class: str, *args: str) -> str:
    argv = [jvm.java(), "-Xmx512m", "-cp", jvm.classpath(jvm.KAFKA), main_class, *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=True)
    return done.stdout


def main(records: int, record_bytes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kafka-perf-") as tmp:
        root = Path(tmp)
        broker = EmbeddedBroker(
            data_dir=root / "broker", port=free_port(), controller_port=free_port(), run_dir=root
        )
        try:
            broker.start()
            servers = broker.bootstrap_servers
            admin = AdminClient({"bootstrap.servers": servers})  # kept alive for its future
            created = admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])
            created[TOPIC].result(timeout=30)
            produced = kafka_tool(
                "org.apache.kafka.tools.ProducerPerformance",
                *("--topic", TOPIC, "--num-records", str(records)),
                *("--record-size", str(record_bytes), "--throughput", "-1"),
                *("--producer-props", f"bootstrap.servers={servers}", "acks=all"),
                "enable.idempotence=true",
                "linger.ms=5",
            )
            consumed = kafka_tool(
                "org.apache.kafka.tools.ConsumerPerformance",
                *("--bootstrap-server", servers, "--topic", TOPIC),
                *("--messages", str(records), "--timeout", "60000"),
            )
        finally:
            broker.stop()
    load = os.getloadavg()[0]
    print(f"kafka-perf records={records} record_bytes={record_bytes} load_at_end={load:.1f}")
    print("produce (ProducerPerformance, acks=all, idempotent):")
    print("  " + produced.strip().splitlines()[-1])
    print("consume (ConsumerPerformance):")
    print("  " + "\n  ".join(consumed.strip().splitlines()[-2:]))


if __name__ == "__main__":
    argv = [int(a) for a in sys.argv[1:3]]
    main(argv[0] if argv else 2_000_000, argv[1] if len(argv) > 1 else 300)
