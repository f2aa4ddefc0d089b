"""The event streams: the Kafka topics every collector writes and every Spark job reads."""

import dagster as dg

from cryptoviz_assets.resources import KafkaResource
from cryptoviz_assets.topics import ensure_topics


@dg.asset(
    group_name="streams",
    kinds={"kafka"},
    owners=["team:platform"],
    description="The project's Kafka topics, created idempotently on the configured broker.",
)
def kafka_topics(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
    settings = kafka.settings()
    states = ensure_topics(settings)
    created = [state.name for state in states if state.created]
    if created:
        context.log.info(f"created topics: {', '.join(created)}")
    ends = kafka.end_offsets(state.name for state in states)
    rows = [(state.name, state.partitions, sum(ends[state.name].values())) for state in states]
    table = "\n".join(f"| {name} | {parts} | {records} |" for name, parts, records in rows)
    return dg.MaterializeResult(
        metadata={
            "bootstrap_servers": settings.bootstrap_servers,
            "embedded_broker": settings.uses_embedded_broker,
            "topics": dg.MetadataValue.md(
                "| topic | partitions | records |\n|---|---|---|\n" + table
            ),
            "topics_created": len(created),
            "partitions": {name: parts for name, parts, _ in rows},
            "records": {name: records for name, _, records in rows},
        }
    )
