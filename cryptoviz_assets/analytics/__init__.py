"""Reading what the streams landed: the dbt project, the Delta lake through DuckDB, the
published warehouse, its report and its docs."""
