"""Daemons: started in the background, found by PID file, stopped with their whole tree."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cryptoviz_assets.runtime.processes import Daemon, wait_until

# A parent that starts a child which starts a grandchild, then waits: a small process tree.
TREE = "sleep 300 & (sleep 301 & wait) & wait"


def test_stop_ends_the_whole_process_tree(tmp_path: Path) -> None:
    daemon = Daemon("tree", tmp_path)
    pid = daemon.start(["bash", "-c", TREE])
    root = psutil.Process(pid)
    wait_until(lambda: len(root.children(recursive=True)) >= 3, 10, what="children")
    family = [root, *root.children(recursive=True)]

    assert daemon.is_running()
    assert daemon.stop(timeout=10)

    assert not daemon.pid_file.exists()
    assert [p.pid for p in family if p.is_running() and p.status() != "zombie"] == []
    assert not daemon.is_running()
    assert not daemon.stop()  # stopping twice is harmless


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    daemon = Daemon("stubborn", tmp_path)
    pid = daemon.start(["bash", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"])
    root = psutil.Process(pid)
    wait_until(lambda: len(root.children()) == 1, 10, what="the trap to be set")
    started = time.monotonic()
    assert daemon.stop(timeout=1)
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 10  # waited the full timeout for SIGTERM, then SIGKILL worked
    assert not psutil.pid_exists(pid) or root.status() == "zombie"


def test_stale_pid_file_is_not_mistaken_for_a_running_process(tmp_path: Path) -> None:
    daemon = Daemon("stale", tmp_path)
    # The PID of this very test process, with a start time that does not match it.
    daemon.pid_file.write_text(f'{{"pid": {psutil.Process().pid}, "create_time": 1.0}}')
    assert daemon.process() is None
    assert not daemon.pid_file.exists()


def test_refuses_to_start_twice(tmp_path: Path) -> None:
    daemon = Daemon("once", tmp_path)
    daemon.start(["sleep", "300"])
    try:
        with pytest.raises(RuntimeError, match="already running"):
            daemon.start(["sleep", "300"])
    finally:
        daemon.stop()


# `cmd &` in a script leaves SIGINT ignored; a Dagster run in that process then maps
# SIGTERM to SIGINT's handler, so SIGTERM is ignored too. A daemon must stop on either.
IGNORE_SIGINT = "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
DAGSTER_RAN = (
    "from dagster._utils.interrupts import capture_interrupts\n"
    "with capture_interrupts():\n"
    "    pass\n"
    "assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN, 'Dagster changed'\n"
)


@pytest.mark.parametrize(
    ("launcher_state", "stop_signal"),
    [(IGNORE_SIGINT, signal.SIGINT), (IGNORE_SIGINT + DAGSTER_RAN, signal.SIGTERM)],
    ids=["sigint-ignored", "sigterm-ignored-after-dagster"],
)
def test_signals_work_even_when_the_launcher_ignored_them(
    tmp_path: Path, launcher_state: str, stop_signal: signal.Signals
) -> None:
    launcher = (
        "import signal, sys\n"
        "from pathlib import Path\n"
        "from cryptoviz_assets.runtime.processes import Daemon\n"
        f"{launcher_state}"
        f"Daemon('sleeper', Path({str(tmp_path)!r})).start(['sleep', '300'], "
        f"stop_signal=signal.{stop_signal.name})\n"
    )
    subprocess.run([sys.executable, "-c", launcher], check=True)
    daemon = Daemon("sleeper", tmp_path)
    proc = daemon.process()
    assert proc is not None
    proc.send_signal(stop_signal)
    proc.wait(timeout=5)  # the signal at its default disposition ends `sleep`
    assert daemon.process() is None


def test_output_goes_to_the_log_file(tmp_path: Path) -> None:
    daemon = Daemon("echo", tmp_path)
    daemon.start(["bash", "-c", "echo hello-from-daemon; sleep 300"])
    wait_until(lambda: "hello-from-daemon" in daemon.log_file.read_text(), 5, what="log line")
    daemon.stop()


# A script that starts something, cleans it up in `finally` (slowly, to be interrupted
# again), and is sent SIGTERM while it waits: what the benchmarks do.
SCRIPT = """
import sys, time
from pathlib import Path
from cryptoviz_assets.runtime.processes import interrupt_on_sigterm, uninterruptible
interrupt_on_sigterm()
out = Path(sys.argv[1])
try:
    out.write_text("started\\n")
    time.sleep(300)
except KeyboardInterrupt as interrupt:
    out.write_text(out.read_text() + f"interrupted: {interrupt}\\n")
finally:
    with uninterruptible():
        out.write_text(out.read_text() + "cleaning\\n")
        time.sleep(1.5)
        out.write_text(out.read_text() + "cleaned up\\n")
"""


def test_sigterm_runs_the_cleanup_to_its_end(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)])
    wait_until(lambda: out.exists() and out.read_text() == "started\n", 30, what="start")
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "cleaning" in out.read_text(), 10, what="the cleanup")
    proc.send_signal(signal.SIGTERM)  # a second one does not cut the cleanup short
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert out.read_text().splitlines() == [
        "started",
        "interrupted: signal SIGTERM",
        "cleaning",
        "cleaned up",
    ]


def test_children_of_the_test_session_stop_on_sigterm_after_a_dagster_run(tmp_path: Path) -> None:
    """What Dagster's compute-log capture does: a run maps SIGTERM to SIGINT's handler, then
    starts `tail -F` and stops it with SIGTERM. CI runs pytest from `cmd &`; the session
    fixture keeps that tail stoppable (it used to outlive every run)."""
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts():
        pass
    assert signal.getsignal(signal.SIGTERM) != signal.SIG_IGN
    log = tmp_path / "compute.out"
    log.write_text("")
    tail = subprocess.Popen(["tail", "-F", "-c", "+0", str(log)], stdout=subprocess.DEVNULL)
    tail.terminate()
    assert tail.wait(timeout=5) == -signal.SIGTERM
