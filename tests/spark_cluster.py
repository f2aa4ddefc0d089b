"""A Spark standalone cluster on 127.0.0.1, started from the PySpark wheel, for tests.

The wheel has `bin/spark-class` but no `sbin/start-master.sh` or `start-worker.sh`, so the
master and each worker are started in the foreground with `spark-class`, each as a `Daemon`
(own process group, PID file under the test's tmp folder: the session fixture
`no_process_left_behind` stops whatever a failed test left). A worker's executors, and their
Python workers, are its children in its process group: stopping or killing the group ends
all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pyspark

from cryptoviz_assets.runtime.processes import Daemon, free_port, wait_until

SPARK_HOME = Path(pyspark.__file__).parent
# An executor's log of each task it starts and ends: "Running task 0.0 in stage 57.0 (TID 82)",
# then "Finished task ...", "Exception in task ...", "Executor [interrupted and] killed task ...".
TASK_EVENT = re.compile(r"(Running|Finished|Exception in|killed) task .*?\(TID (\d+)\)")


class SparkStandalone:
    """A master and `workers` workers (`cores` cores and `memory` each) on free ports."""

    def __init__(self, root: Path, workers: int = 2, cores: int = 1, memory: str = "1g") -> None:
        self.root = root
        self.port, self.webui_port = free_port(), free_port()
        self.master = Daemon("spark-master", root / "master")
        self.workers = [Daemon(f"spark-worker-{i}", root / f"worker-{i}") for i in range(workers)]
        self.worker_ports = [free_port() for _ in self.workers]  # the master lists them by port
        self.cores, self.memory = cores, memory

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """SPARK_HOME is the wheel; executors run this venv's Python; an empty conf dir keeps
        a host's spark-defaults.conf out."""
        conf = self.root / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_CONF_DIR": str(conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
        }

    def start(self) -> None:
        """Start the master, then the workers; return once every worker is registered."""
        spark_class = str(SPARK_HOME / "bin" / "spark-class")
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
        ports = ["--port", str(self.port), "--webui-port", str(self.webui_port)]
        self.master.start([spark_class, *master, *ports], env=self.env())
        wait_until(lambda: self._json() is not None, 120, 0.5, f"{self.url}\n{self.logs()}")
        for worker, port in zip(self.workers, self.worker_ports, strict=True):
            work_dir = worker.run_dir / "work"
            work_dir.mkdir(parents=True, exist_ok=True)
            args = ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(free_port())]
            args += ["--cores", str(self.cores), "--memory", self.memory]
            args += ["--work-dir", str(work_dir)]
            worker.start(
                [spark_class, "org.apache.spark.deploy.worker.Worker", self.url, *args],
                env=self.env(),
            )
        wait_until(
            lambda: len(self.alive_workers()) == len(self.workers),
            120,
            0.5,
            f"{len(self.workers)} workers to register\n{self.logs()}",
        )

    def state(self) -> dict[str, Any]:
        """The master's JSON status (workers with their state and cores used, apps)."""
        status = self._json()
        assert status is not None, f"master not answering\n{self.logs()}"
        return status

    def alive_workers(self) -> list[dict[str, Any]]:
        status = self._json() or {}
        return [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]

    def tasks_running(self, index: int) -> set[str]:
        """Tasks a worker's executors have started and not finished, from their own logs
        (`Running task 0.0 in stage 57.0 (TID 82)`; after a kill -9: the tasks it died in)."""
        running: set[str] = set()
        for log in self.workers[index].run_dir.glob("work/*/*/stderr"):
            for line in log.read_text(errors="replace").splitlines():
                if match := TASK_EVENT.search(line):
                    event, tid = match.groups()
                    (running.add if event == "Running" else running.discard)(tid)
        return running

    def kill_worker(self, index: int) -> dict[int, str]:
        """kill -9 a worker's whole tree at once (its JVM, executor JVMs, Python workers):
        a machine lost, not a clean shutdown. Returns the command line of each PID killed."""
        worker = self.workers[index].process()
        assert worker is not None, f"worker {index} is not running"
        family = [worker, *worker.children(recursive=True)]
        killed = {p.pid: _command(p) for p in family}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        for proc in family:  # anything that left the group
            with contextlib.suppress(psutil.Error):
                proc.kill()
        _, alive = psutil.wait_procs(family, timeout=10)
        assert not alive, f"still alive after kill -9: {alive}"
        return killed

    def stop(self) -> None:
        """Workers first (each stops its executors), then the master; SIGKILL if need be."""
        for daemon in [*self.workers, self.master]:
            daemon.stop(timeout=20)

    def processes(self) -> list[psutil.Process]:
        """Live processes of this cluster: every one runs from or names a folder under root
        (executors have the conf dir on their classpath and run in a worker's work dir)."""
        found = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if str(self.root) in " ".join([proc.cwd(), *proc.cmdline()]):
                    found.append(proc)
        return found

    def logs(self, lines: int = 40) -> str:
        """The tails of the master's, workers' and executors' logs (for failure messages)."""
        files = [d.log_file for d in [self.master, *self.workers]]
        files += sorted(self.root.glob("worker-*/work/*/*/stderr"))  # app/executor/stderr
        out = []
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(out)

    def _json(self) -> dict[str, Any] | None:
        url = f"http://127.0.0.1:{self.webui_port}/json/"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]
        except OSError:
            return None


def _command(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # gone, or a zombie (a short-lived helper the worker did not reap)
        return ""
