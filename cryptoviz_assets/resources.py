"""Dagster resources: the one place assets get their Kafka clients and settings from."""

from collections.abc import Iterable
from typing import Any

import dagster as dg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from dagster_dbt import DbtCliResource

from cryptoviz_assets.dbt import dbt_executable, dbt_project
from cryptoviz_assets.settings import Settings, get_settings


class KafkaResource(dg.ConfigurableResource):
    """Kafka clients built from the project settings (embedded broker or a real cluster)."""

    def settings(self) -> Settings:
        return get_settings()

    def admin(self) -> AdminClient:
        return AdminClient(self.settings().kafka_client_config())

    def producer(self, **overrides: Any) -> Producer:
        """An idempotent producer (acks=all): retries never duplicate or reorder."""
        config: dict[str, Any] = {
            **self.settings().kafka_client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
        }
        config.update(overrides)
        return Producer(config)

    def end_offsets(
        self, topics: Iterable[str], timeout: float = 10.0
    ) -> dict[str, dict[int, int]]:
        """Per topic, partition -> high watermark (the offset the next record will get)."""
        consumer = Consumer(
            {**self.settings().kafka_client_config(), "group.id": "cryptoviz-offsets-probe"}
        )
        try:
            metadata = consumer.list_topics(timeout=timeout).topics
            return {
                topic: {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                    for p in sorted(metadata[topic].partitions)
                }
                for topic in topics
            }
        finally:
            consumer.close()


def build_resources() -> dict[str, object]:
    """Every resource the code location provides, by the name assets ask for."""
    return {
        "kafka": KafkaResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
