"""The event streams: the Kafka topics every collector writes and every Spark job reads."""

import dagster as dg

from cryptoviz_assets.defs.resources import KafkaResource
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import get_settings


@dg.asset(
    group_name="streams",
    kinds={"kafka"},
    owners=["team:platform"],
    description="The project's Kafka topics, created idempotently on the configured broker.",
)
def kafka_topics(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
    settings = get_settings()
    states = ensure_topics(settings)
    created = [state.name for state in states if state.created]
    if created:
        context.log.info(f"created topics: {', '.join(created)}")
    ends = kafka.end_offsets(state.name for state in states)
    rows = [(state.name, state.partitions, sum(ends[state.name].values())) for state in states]
    table = "\n".join(f"| {name} | {parts} | {records} |" for name, parts, records in rows)
    return dg.MaterializeResult(
        metadata={
            "bootstrap_servers": kafka.bootstrap_servers,
            "embedded_broker": settings.uses_embedded_broker,
            "topics": dg.MetadataValue.md(
                "| topic | partitions | records |\n|---|---|---|\n" + table
            ),
            "topics_created": len(created),
            "partitions": {name: parts for name, parts, _ in rows},
            "records": {name: records for name, _, records in rows},
        }
    )


@dg.asset_check(
    asset=kafka_topics, blocking=True, description="Every topic exists with its partitions."
)
def kafka_topics_complete(kafka: KafkaResource) -> dg.AssetCheckResult:
    settings = get_settings()
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


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[kafka_topics], asset_checks=[kafka_topics_complete])
