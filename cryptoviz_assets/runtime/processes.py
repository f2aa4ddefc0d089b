"""Background processes the project starts, tracked by PID file so they can all be stopped.

Each daemon runs in a session of its own (its own process group), with SIGINT and SIGTERM
at their defaults even when the launcher was started from a shell that ignores them. The
PID file records the process's start time too, so a recycled PID is never mistaken for it.
Stopping signals the whole process group, waits, and escalates to SIGKILL, then kills any
descendant that escaped the group: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Daemon:
    """A named background process whose PID file lives in `run_dir`."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> int:
        """Start `argv` in the background, logging to `log_file`; return its PID."""
        if self.process() is not None:
            raise RuntimeError(f"{self.name} is already running (PID file {self.pid_file})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=default_signal_handlers,  # noqa: PLW1509 (launcher is single-threaded)
            )
        created = psutil.Process(proc.pid).create_time()
        record = {"pid": proc.pid, "create_time": created, "stop_signal": stop_signal.name}
        self.pid_file.write_text(json.dumps(record))
        return proc.pid

    def process(self) -> psutil.Process | None:
        """The live process behind the PID file, or None (a stale file is removed)."""
        try:
            record = json.loads(self.pid_file.read_text())
            proc = psutil.Process(record["pid"])
            same_process = abs(proc.create_time() - record["create_time"]) < 0.01
            if same_process and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except (FileNotFoundError, json.JSONDecodeError, KeyError, psutil.Error):
            pass
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.process() is not None

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the process and all its descendants. Returns False if it was not running."""
        proc = self.process()
        if proc is None:
            return False
        record = json.loads(self.pid_file.read_text())
        stop_signal = signal.Signals[record.get("stop_signal", "SIGTERM")]
        terminate_tree(proc, stop_signal, timeout)
        self.pid_file.unlink(missing_ok=True)
        return True


def terminate_tree(proc: psutil.Process, stop_signal: signal.Signals, timeout: float) -> None:
    """Signal a process (and its group), wait up to `timeout`, then SIGKILL what remains."""
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    _signal_group(proc.pid, stop_signal)
    alive = _wait_gone(family, timeout)
    # Descendants may have been started after we looked, or left the group: look again.
    with contextlib.suppress(psutil.NoSuchProcess):
        alive += [child for child in proc.children(recursive=True) if child not in alive]
    if alive:
        _signal_group(proc.pid, signal.SIGKILL)
        for straggler in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                straggler.kill()
        _wait_gone(alive, 5)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still running after `timeout`.

    A process that exited but whose parent (not us) has not reaped it yet is a zombie: it
    is gone for our purposes, though psutil's wait would wait for its PID to disappear.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _running(proc: psutil.Process) -> bool:
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return proc.is_running()
        with contextlib.suppress(psutil.TimeoutExpired, ChildProcessError):
            proc.wait(timeout=0)  # reap it if it is our own child
        return False
    except psutil.NoSuchProcess:
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def default_signal_handlers() -> None:
    """Runs in a child before exec (`preexec_fn`): undo an inherited SIG_IGN.

    A `cmd &` shell leaves SIGINT ignored, and Dagster's in-process execution then maps
    SIGTERM to SIGINT's handler (`setup_interrupt_handlers`), so SIGTERM becomes ignored
    too; exec keeps ignored signals, and the child could then not be stopped gracefully.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def interrupt_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt, like Ctrl-C, in the main thread.

    Python's default ends the process at once on SIGTERM, skipping every `finally`: a script
    that started services (a benchmark's broker and Spark job) would leave them running.
    """
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_keyboard_interrupt)


def _raise_keyboard_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Ignore Ctrl-C, SIGTERM and SIGHUP inside the block, so a cleanup runs to its end."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = "condition"
) -> None:
    """Poll `predicate` until it is true, or raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def port_in_use(port: int) -> bool:
    """Is something listening on 127.0.0.1:`port`?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A loopback port nothing listens on right now (for private test and benchmark services)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
