"""Replay mode: a loopback HTTP server that answers like the real sources.

`server.py` serves the real services' paths and query parameters, so the collectors run
unchanged offline; `recordings.py` loads the recorded real payloads in `data/`;
`market.py` sets that recorded market in motion, with injected events for the analytics.
"""
