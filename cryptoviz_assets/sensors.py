"""Sensors: the streaming jobs' supervisor. Filled in with the streaming jobs."""

import dagster as dg

jobs: list[dg.JobDefinition] = []
sensors: list[dg.SensorDefinition] = []
