"""The project's Kafka topics, created idempotently on whichever broker is configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    ClusterMetadata,
    NewTopic,
    OffsetSpec,
    TopicMetadata,
)

from cryptoviz_assets.settings import Settings


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    created: bool  # False when it already existed


def ensure_topics(settings: Settings, timeout: float = 15.0) -> list[TopicState]:
    """Create any missing project topic; existing topics are left exactly as they are."""
    admin = AdminClient(settings.kafka_client_config())
    wanted = list(settings.topics.values())
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=settings.kafka_topic_partitions,
                replication_factor=settings.kafka_replication_factor,
            )
            for name in wanted
        ],
        request_timeout=timeout,
    )
    created: set[str] = set()
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.add(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    # Kafka answers CreateTopics before every broker knows the topic and before each new
    # partition has a leader: ask until all of them are usable, or reads fail with
    # UNKNOWN_TOPIC / NOT_LEADER_FOR_PARTITION.
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout)
        waiting = [name for name in wanted if not usable(metadata.topics.get(name))]
        if not waiting:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {waiting} were created but have no leader yet")
        time.sleep(0.2)
    if created:
        _wait_until_readable(admin, metadata, sorted(created), deadline)
    return [
        TopicState(name, len(metadata.topics[name].partitions), name in created) for name in wanted
    ]


def usable(topic: TopicMetadata | None) -> bool:
    """Known to the broker, and every partition led by a broker."""
    if topic is None or topic.error is not None or not topic.partitions:
        return False
    return all(p.error is None and p.leader >= 0 for p in topic.partitions.values())


def _wait_until_readable(
    admin: AdminClient, metadata: ClusterMetadata, topics: list[str], deadline: float
) -> None:
    """A leader named in the metadata may still be loading the partition: ListOffsets then
    answers NOT_LEADER_OR_FOLLOWER or UNKNOWN_LEADER_EPOCH for a moment (librdkafka does not
    flag these as retriable). Ask until every partition answers, or the deadline passes."""
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in metadata.topics[topic].partitions
    ]
    while True:
        futures = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions})
        failed = []
        for tp, future in futures.items():
            try:
                future.result()
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                failed.append(tp)
        if not failed:
            return
        partitions = failed
        time.sleep(0.2)
