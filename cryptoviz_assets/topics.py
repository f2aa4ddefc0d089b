"""The project's Kafka topics, created idempotently on whichever broker is configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

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
    # On a cluster the broker that answers metadata may learn of a new topic a moment after
    # the controller created it: ask until every topic is there.
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout)
        missing = [name for name in wanted if name not in metadata.topics]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {missing} were created but are not in the metadata")
        time.sleep(0.2)
    return [
        TopicState(name, len(metadata.topics[name].partitions), name in created) for name in wanted
    ]
