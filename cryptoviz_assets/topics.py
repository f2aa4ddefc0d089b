"""The project's Kafka topics, created idempotently on whichever broker is configured."""

from __future__ import annotations

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
    metadata = admin.list_topics(timeout=timeout)
    return [
        TopicState(name, len(metadata.topics[name].partitions), name in created) for name in wanted
    ]
