"""The code on a cluster: three Apache Kafka brokers (replication factor 3, min.insync.replicas
2), one of them killed with SIGKILL while records are produced, consumed by a consumer group
and landed by the Spark prices job. Nothing acknowledged is lost, nothing lands twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.runtime.processes import wait_until
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from tests.collector_support import read_topic
from tests.kafka_cluster import bootstrap, kafka_cluster
from tests.streaming_support import (
    LakeReader,
    column,
    job_env,
    log_tail,
    produce,
    tick_series,
    wait_for,
)

pytestmark = pytest.mark.slow


class PacedProducer(threading.Thread):
    """Produces `values` over about `seconds` (acks=all, idempotent), keeping what the
    cluster acknowledged and every delivery error."""

    def __init__(self, servers: str, topic: str, values: list[dict[str, Any]], seconds: float):
        super().__init__(daemon=True)
        self.servers, self.topic, self.values, self.seconds = servers, topic, values, seconds
        self.acked: list[str] = []
        self.errors: list[KafkaError] = []

    def run(self) -> None:
        import json

        producer = Producer(
            {"bootstrap.servers": self.servers, "enable.idempotence": True, "acks": "all"}
        )

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                self.acked.append(json.loads(msg.value())["event_id"])
            else:
                self.errors.append(err)

        pause = self.seconds / len(self.values)
        for value in self.values:
            producer.produce(
                self.topic, key=value["coin_id"], value=json.dumps(value), on_delivery=delivered
            )
            producer.poll(0)
            time.sleep(pause)
        producer.flush(120)


class GroupReader(threading.Thread):
    """A consumer-group member reading until stopped; keeps the event ids it saw."""

    def __init__(self, servers: str, topic: str):
        super().__init__(daemon=True)
        self.seen: set[str] = set()
        self.stopping = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": servers,
                "group.id": f"cluster-reader-{topic}",
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
            }
        )
        self.consumer.subscribe([topic])

    def run(self) -> None:
        import json

        while not self.stopping.is_set():
            msg = self.consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                self.seen.add(json.loads(msg.value())["event_id"])
        self.consumer.close()


def test_a_broker_killed_mid_stream_loses_nothing(tmp_path: Path) -> None:
    with kafka_cluster(tmp_path / "cluster") as brokers:
        servers = bootstrap(brokers)
        settings = Settings(
            kafka_bootstrap_servers=servers,
            var_dir=tmp_path / "var",
            kafka_replication_factor=3,
            topic_prices="cluster-prices",
        )
        ensure_topics(settings)
        topic = settings.topic_prices
        partitions = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10)
        assert all(len(p.replicas) == 3 for p in partitions.topics[topic].partitions.values()), (
            "every partition replicated to the three brokers"
        )

        lake = LakeReader(settings.lake_uri)
        log = tmp_path / "prices.log"
        ticks = tick_series(6000)
        warmup, rest = ticks[:500], ticks[500:]
        job = StreamProcess("prices", job_env(settings), log)
        reader = GroupReader(servers, topic)
        producer = PacedProducer(servers, topic, rest, seconds=30)
        try:
            job.start()
            reader.start()
            produce(servers, topic, warmup)
            wait_for(lambda: len(column(lake, "price_ticks", "event_id")) >= 500, 300, "warm-up")
            producer.start()
            wait_until(lambda: len(producer.acked) >= len(rest) // 3, 60, what="a third acked")
            # SIGKILL the broker leading partition 0 while the producer is still sending.
            leaders = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10)
            leader = leaders.topics[topic].partitions[0].leader
            victim = next(b for b in brokers if b.node_id == leader)
            assert producer.is_alive(), "the kill must happen during produce"
            victim.kill()

            producer.join(timeout=300)
            assert not producer.is_alive()
            assert producer.errors == []
            acked = {t["event_id"] for t in warmup} | set(producer.acked)
            assert len(acked) == len(ticks)
            wait_for(
                lambda: set(column(lake, "price_ticks", "event_id")) >= acked,
                300,
                "every acknowledged tick in the lake",
            )
            wait_for(lambda: reader.seen >= acked, 120, "the consumer group to see every tick")
            assert job.poll() is None, "the job rides out the broker's death\n" + log_tail(log)
            assert job.stop() == 0, log_tail(log)
        finally:
            reader.stopping.set()
            job.kill()

        landed = column(lake, "price_ticks", "event_id")
        assert len(landed) == len(set(landed)), "a tick landed twice"
        assert set(landed) == acked
        on_topic = [r["value"]["event_id"] for r in read_topic(settings, topic)]
        assert sorted(on_topic) == sorted(acked), "each acknowledged record stored once"
