"""Great Expectations data quality of the lake: suites as plain data and their validation,
run as the asset checks that gate the dbt build (defs/quality/checks.py). The marts'
expectations are dbt tests, stated only there.

Great Expectations is imported only inside `validation.validate` (it takes 6-8 s to import
and pulls in Spark Connect), so loading the code location stays fast.
"""
