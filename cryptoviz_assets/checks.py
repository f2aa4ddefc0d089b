"""Asset checks that do not belong to a single stage's module."""

import dagster as dg

from cryptoviz_assets.assets.platform import kafka_topics
from cryptoviz_assets.resources import KafkaResource


@dg.asset_check(
    asset=kafka_topics, blocking=True, description="Every topic exists with its partitions."
)
def kafka_topics_complete(kafka: KafkaResource) -> dg.AssetCheckResult:
    settings = kafka.settings()
    existing = kafka.admin().list_topics(timeout=10).topics
    problems = {}
    for name in settings.topics.values():
        if name not in existing:
            problems[name] = "missing"
        elif len(existing[name].partitions) < settings.kafka_topic_partitions:
            problems[name] = f"{len(existing[name].partitions)} partitions"
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "problems": problems or "none",
            "expected_partitions": settings.kafka_topic_partitions,
        },
    )
