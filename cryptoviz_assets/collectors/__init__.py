"""Collectors: fetch a source, parse its payload into typed events, publish them to Kafka.

`base.py` holds the small interface every source implements and the shared run loop; each
source has a module of its own. Resilience (`http.py`, `budget.py`, `breaker.py`), dedup
(`seen.py`) and validated publishing (`publisher.py`) are shared by all of them.
"""
