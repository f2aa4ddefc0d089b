"""A local Apache Kafka cluster for the tests that are about a cluster: three KRaft nodes
on 127.0.0.1, each broker and controller, sharing one cluster id and one quorum."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from cryptoviz_assets.kafka.broker import EmbeddedBroker, broker_answers, new_cluster_id
from cryptoviz_assets.runtime.processes import free_port, wait_until


@contextlib.contextmanager
def kafka_cluster(root: Path, nodes: int = 3) -> Iterator[list[EmbeddedBroker]]:
    """Start `nodes` Kafka nodes (replication factor `nodes`, min.insync.replicas 2), wait
    until every broker is registered, and stop them all on the way out."""
    ports = [(free_port(), free_port()) for _ in range(nodes)]
    quorum = tuple((node, controller) for node, (_, controller) in enumerate(ports, start=1))
    cluster_id = new_cluster_id()
    brokers = [
        EmbeddedBroker(
            data_dir=root / f"kafka-{node}",
            port=port,
            controller_port=controller,
            run_dir=root / "run",
            node_id=node,
            quorum=quorum,
            cluster_id=cluster_id,
            replication_factor=nodes,
            min_insync_replicas=min(2, nodes),
            name=f"kafka-{node}",
        )
        for node, (port, controller) in enumerate(ports, start=1)
    ]
    try:
        for broker in brokers:
            broker.launch()
        for broker in brokers:
            broker.wait_ready(timeout=120)
        wait_until(
            lambda: all(broker_answers(bootstrap(brokers), broker_id=b.node_id) for b in brokers),
            60,
            what="every broker registered",
        )
        yield brokers
    finally:
        for broker in brokers:
            broker.stop()


def bootstrap(brokers: list[EmbeddedBroker]) -> str:
    return ",".join(broker.bootstrap_servers for broker in brokers)
