"""Great Expectations data quality: suites as plain data, validation, Dagster asset checks.

Great Expectations is imported only inside `validation.validate` (it takes 6-8 s to import
and pulls in Spark Connect), so loading the code location stays fast.
"""
