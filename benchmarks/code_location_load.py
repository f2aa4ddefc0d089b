"""How long the Dagster code location takes to load, in fresh interpreters.

Run: .venv/bin/python benchmarks/code_location_load.py [runs]
Prints the median and worst wall time of importing cryptoviz_assets.definitions and
resolving its asset graph, which is what `dagster dev` and every run worker pay.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from cryptoviz_assets.runtime.processes import interrupt_on_sigterm

PROBE = (
    "import time; t = time.perf_counter()\n"
    "from cryptoviz_assets.definitions import defs\n"
    "graph = defs().resolve_asset_graph()\n"
    "print(time.perf_counter() - t, len(graph.get_all_asset_keys()))\n"
)


def main(runs: int = 5) -> None:
    load_times, process_times = [], []
    assets = 0
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
        out.check_returncode()
        process_times.append(time.perf_counter() - started)
        seconds, count = out.stdout.split()
        load_times.append(float(seconds))
        assets = int(count)
    print(f"code location: {assets} assets, {runs} fresh interpreters")
    print(
        f"  load definitions: median {statistics.median(load_times):.2f} s, "
        f"max {max(load_times):.2f} s"
    )
    print(
        f"  whole process:    median {statistics.median(process_times):.2f} s, "
        f"max {max(process_times):.2f} s"
    )


if __name__ == "__main__":
    interrupt_on_sigterm()  # SIGTERM runs the cleanup, like Ctrl-C
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
