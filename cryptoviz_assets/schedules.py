"""Schedules: when each collector runs. Filled in with the collectors."""

import dagster as dg

jobs: list[dg.JobDefinition] = []
schedules: list[dg.ScheduleDefinition] = []
