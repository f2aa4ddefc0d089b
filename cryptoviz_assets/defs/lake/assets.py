"""The lake tables the streaming jobs write, as assets Dagster can see and track.

The Spark jobs (streaming/) write these tables continuously; Dagster does not compute them
on demand, so they are asset specs, kept up to date by the supervised stream runs
(defs/streams/jobs.py), which record a materialization whenever rows land and an
observation of the job's progress (rates, offsets behind, last batch). Each table's
lineage runs from the sources whose topics its stream reads.
"""

import dagster as dg

from cryptoviz_assets.collectors.registry import sources_of
from streaming.catalog import STREAMS, TABLE_DESCRIPTIONS, Stream


def upstream_assets(stream: Stream) -> list[str]:
    """The topics asset and the collector assets whose events `stream` reads."""
    return ["kafka_topics", *(asset for s in sources_of(stream.topics) for asset in s.assets)]


def lake_table_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["lake", table]),
            description=TABLE_DESCRIPTIONS[table],
            group_name="lake",
            kinds={"spark", "delta"},
            owners=["team:streaming"],
            deps=upstream_assets(stream),
            tags={"cryptoviz/stream": stream.name},
            metadata={
                "stream_job": f"streaming.{stream.name}",
                "layout": f"<lake>/{table}: a Delta table partitioned by date",
            },
        )
        for stream in STREAMS
        for table in stream.tables
    ]


@dg.definitions
def defs() -> dg.Definitions:
    # Not executable by Dagster: Spark writes them.
    return dg.Definitions(assets=[dg.AssetsDefinition(specs=lake_table_specs())])
