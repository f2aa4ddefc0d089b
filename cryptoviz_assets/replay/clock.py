"""The replay market's clock: wall time, or a past moment the demo advances tick by tick.

The demo wants half an hour of one-minute market snapshots (two cycles of the injected
events) in a couple of minutes. It starts the market at least `history_ticks` ticks in the
past, at the top of an hour (so the snapshots fall into the same hourly and daily bars on
every run), with time frozen there, and moves it one tick per `advance()` after collecting
each snapshot, so no snapshot is skipped or repeated. Once the market time reaches the wall
clock it simply follows it: the market never runs ahead of real time, so event times are
never in the future.

A market started in the past counts its snapshots from its first one (`origin`), so the
demo replays the same snapshots, with the same injected events, whenever it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ALIGN_SECONDS = 3600  # a market started in the past starts at the top of an hour


class CatchUpClock:
    def __init__(
        self, tick_seconds: float, history_ticks: int = 0, wall: Callable[[], float] = time.time
    ) -> None:
        self._wall = wall
        self._tick_seconds = tick_seconds
        self._lock = threading.Lock()
        start = (wall() - history_ticks * tick_seconds) // ALIGN_SECONDS * ALIGN_SECONDS
        first_tick = int(start // tick_seconds)
        self._frozen_at: float | None = first_tick * tick_seconds if history_ticks > 0 else None
        # The tick a market on this clock counts from: its first snapshot when it starts in
        # the past, else the epoch (a restarted wall-clock market carries on where it was).
        self.origin = first_tick if history_ticks > 0 else 0

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

    def release(self) -> None:
        """Stop replaying the past: from now on the market follows the wall clock. The demo
        calls it once its snapshots are in, so the collectors of `dagster dev` afterwards see
        a market that moves (a frozen one would serve the same snapshot, minute after minute)."""
        with self._lock:
            self._frozen_at = None

    @property
    def caught_up(self) -> bool:
        return self._frozen_at is None
