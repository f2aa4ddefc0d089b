"""One pybreaker circuit breaker per source, its state kept in SQLite across runs.

Each scheduled run is a fresh process, so an in-memory breaker would forget every failure.
The storage below is pybreaker's own extension point (`CircuitBreakerStorage`); the
breaker logic (closed -> open after `fail_max` failures -> half-open trial) is pybreaker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pybreaker

from cryptoviz_assets.collectors.state_db import autocommit


class SqliteBreakerStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state, failure counter and opening time of one named breaker."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(name)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with autocommit(self.path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS breakers (name TEXT PRIMARY KEY, state TEXT NOT NULL,"
                " failures INTEGER NOT NULL, successes INTEGER NOT NULL, opened_at TEXT)"
            )
            db.execute(
                "INSERT OR IGNORE INTO breakers VALUES (?, ?, 0, 0, NULL)",
                (name, pybreaker.STATE_CLOSED),
            )

    def _get(self, column: str) -> Any:
        with autocommit(self.path) as db:
            row = db.execute(f"SELECT {column} FROM breakers WHERE name = ?", (self.name,))
            return row.fetchone()[0]

    def _set(self, assignment: str, *args: Any) -> None:
        with autocommit(self.path) as db:
            db.execute(f"UPDATE breakers SET {assignment} WHERE name = ?", (*args, self.name))

    @property
    def state(self) -> str:
        return str(self._get("state"))

    @state.setter
    def state(self, state: str) -> None:
        self._set("state = ?", state)

    def increment_counter(self) -> None:
        self._set("failures = failures + 1")

    def reset_counter(self) -> None:
        self._set("failures = 0")

    def increment_success_counter(self) -> None:
        self._set("successes = successes + 1")

    def reset_success_counter(self) -> None:
        self._set("successes = 0")

    @property
    def counter(self) -> int:
        return int(self._get("failures"))

    @property
    def success_counter(self) -> int:
        return int(self._get("successes"))

    @property
    def opened_at(self) -> datetime | None:
        value = self._get("opened_at")
        return datetime.fromisoformat(value) if value else None

    @opened_at.setter
    def opened_at(self, moment: datetime) -> None:
        self._set("opened_at = ?", moment.isoformat())


@dataclass(frozen=True)
class BreakerStatus:
    name: str
    state: str  # closed | open | half-open
    failures: int
    retry_after: datetime | None  # when an open breaker lets a trial call through

    def blocks_calls(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.state == pybreaker.STATE_OPEN and (
            self.retry_after is None or now < self.retry_after
        )

    def describe(self) -> str:
        if self.state == pybreaker.STATE_OPEN and self.retry_after:
            return f"open until {self.retry_after.isoformat(timespec='seconds')}"
        return self.state


def breaker_for(
    path: Path, name: str, fail_max: int, reset_seconds: float, exclude: list[type[Exception]]
) -> pybreaker.CircuitBreaker:
    """The breaker of source `name`; excluded errors are ours (budget, config), not the source's."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_seconds,
        exclude=exclude,
        state_storage=SqliteBreakerStorage(path, name),
        name=name,
        throw_new_error_on_trip=False,  # keep the real error as the run's failure reason
    )


def breaker_status(breaker: pybreaker.CircuitBreaker) -> BreakerStatus:
    storage = breaker._state_storage  # pybreaker exposes no public accessor for it
    opened = storage.opened_at
    retry_after = opened + timedelta(seconds=breaker.reset_timeout) if opened else None
    return BreakerStatus(
        name=breaker.name or "", state=breaker.current_state, failures=storage.counter,
        retry_after=retry_after,
    )  # fmt: skip
