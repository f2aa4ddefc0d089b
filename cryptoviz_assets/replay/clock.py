"""The replay market's clock: wall time, or a past moment the demo advances tick by tick.

The demo wants half an hour of one-minute market snapshots (enough history for rolling
z-scores and the injected events) in a couple of minutes. It starts the market
`history_ticks` ticks in the past with time frozen there, and moves it one tick per
`advance()` after collecting each snapshot, so no snapshot is skipped or repeated. Once the
market time reaches the wall clock it simply follows it: the market never runs ahead of
real time, so event times are never in the future.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CatchUpClock:
    def __init__(
        self, tick_seconds: float, history_ticks: int = 0, wall: Callable[[], float] = time.time
    ) -> None:
        self._wall = wall
        self._tick_seconds = tick_seconds
        self._lock = threading.Lock()
        start = (wall() // tick_seconds - history_ticks) * tick_seconds
        self._frozen_at: float | None = start if history_ticks > 0 else None

    def __call__(self) -> float:
        now = self._wall()
        with self._lock:
            if self._frozen_at is not None and self._frozen_at < now:
                return self._frozen_at
            self._frozen_at = None
            return now

    def advance(self, ticks: int = 1) -> bool:
        """Move a frozen clock `ticks` ticks on; True once it follows the wall clock."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += ticks * self._tick_seconds
        self()
        return self.caught_up

    @property
    def caught_up(self) -> bool:
        return self._frozen_at is None
