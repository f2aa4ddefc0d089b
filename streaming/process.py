"""A streaming job as an OS process: started in its own process group, stopped with all of it.

Used by the Dagster supervisor op, the tests and the benchmark. Importing this module does
not import Spark.

Stopping sends SIGTERM to the job's Python driver only (it stops its queries, then Spark),
waits, then SIGKILLs the whole process group and every process it ever saw in the tree:
Spark's Python workers are re-parented to init when the JVM dies, but stay in the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from cryptoviz_assets.runtime.processes import default_signal_handlers

STOP_TIMEOUT_SECONDS = 60.0


@dataclass
class StreamProcess:
    """`python -m streaming.<job> [args]` in a session of its own."""

    job: str
    env: Mapping[str, str] | None = None
    log_path: Path | None = None
    args: tuple[str, ...] = ()
    popen: subprocess.Popen[bytes] | None = None
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def start(self) -> int:
        log = self.log_path if self.log_path is not None else Path(os.devnull)
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", f"streaming.{self.job}", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,
                preexec_fn=default_signal_handlers,  # noqa: PLW1509 (launcher is single-threaded)
            )
        return self.popen.pid

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def poll(self) -> int | None:
        """The exit status, or None while running; remembers the tree for cleanup."""
        self._remember_tree()
        assert self.popen is not None
        return self.popen.poll()

    def family(self) -> list[psutil.Process]:
        """Every live process of the job: its tree plus anything left in its process group."""
        self._remember_tree()
        alive = []
        for proc in list(self.seen.values()) + _group_members(self.pid):
            with contextlib.suppress(psutil.Error):
                if (
                    proc.is_running()
                    and proc.status() != psutil.STATUS_ZOMBIE
                    and proc not in alive
                ):
                    alive.append(proc)
        return alive

    def jvm(self) -> psutil.Process | None:
        for proc in self.family():
            with contextlib.suppress(psutil.Error):
                if proc.name() == "java":
                    return proc
        return None

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """Graceful stop of the driver, then nothing of the job is left. Returns exit status."""
        if self.popen is None:
            return None
        self._remember_tree()
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.kill()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the driver, its process group and every process seen in its tree."""
        assert self.popen is not None
        self._remember_tree()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        leftovers = self.family()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def _remember_tree(self) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.pid)
            for proc in [root, *root.children(recursive=True)]:
                self.seen.setdefault(proc.pid, proc)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
    return members
