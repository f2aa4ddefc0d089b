"""The collectors' small SQLite state files (breakers, call budgets), shared by runs.

Runs of different collectors may touch a file at the same moment: a connection waits up to
30 s for another writer instead of failing, and commits every statement as it runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def autocommit(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to `path` in autocommit mode, closed on exit."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        yield db
    finally:
        db.close()
