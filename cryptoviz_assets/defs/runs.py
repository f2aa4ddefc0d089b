"""Run tags and run states the domains share (dagster.yaml limits runs by these tags)."""

import dagster as dg

KIND_TAG = "cryptoviz/kind"  # collector | streaming | maintenance
COLLECTOR_TAG = "cryptoviz/collector"  # one collection of a source at a time
STREAM_TAG = "cryptoviz/stream"

# A run in one of these has not finished: queued (waiting for the run queue) or in progress.
# It owns its stream, and holds back its collector's next scheduled run.
UNFINISHED = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
        dg.DagsterRunStatus.SUSPENDED,
    }
)
