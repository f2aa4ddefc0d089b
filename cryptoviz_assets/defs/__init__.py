"""The code location's definitions, one folder per domain (each named after its asset group).

sources/ collector assets, jobs and schedules; streams/ Kafka topics and the supervised
Spark jobs; lake/ the Delta tables the streams write and their maintenance; quality/ the
Great Expectations gates on the lake; marts/ the dbt models, the published warehouse and
the report. Every module builds its definitions in a `@dg.definitions` function, so
importing it reads no settings and touches no file.
"""
