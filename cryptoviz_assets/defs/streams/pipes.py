"""A `streaming/` module as a Dagster op's child process, through Dagster Pipes.

The op starts `python -m streaming.<job>` (its own process group) with the Pipes bootstrap
environment and stays with it: Pipes logs appear in the run live, and each custom message
the job reports becomes the Dagster events the caller maps it to. Nothing here imports Spark.

When the run is terminated, Dagster interrupts the op; the `finally` stops the job
(SIGTERM to the driver, then SIGKILL to the whole process group: JVM and Python workers
included). When the job dies on its own, the op fails with the log tail.
"""

import os
import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from cryptoviz_assets.settings import PROJECT_ROOT, get_settings

POLL_SECONDS = 1.0


def run_job_process(
    context: dg.OpExecutionContext,
    job: str,
    *,
    args: tuple[str, ...] = (),
    log_name: str,
    events: Callable[[Any], list[Any]],
) -> None:
    """`python -m streaming.<job> [args]` under Dagster Pipes, until it exits: each custom
    message it reports becomes the Dagster `events` given; a non-zero exit fails the op."""
    from streaming.process import StreamProcess

    settings = get_settings()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.run_dir / log_name
    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesEnvContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
    ) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
        process = StreamProcess(job, env=env, log_path=log_path, args=args)
        pid = process.start()
        command = " ".join([f"streaming.{job}", *args])
        context.log.info(f"started {command} (PID {pid}, log {log_path})")
        seen = 0
        status: int | None = None
        try:
            while (status := process.poll()) is None:
                seen = _log_events(context, session, seen, events)
                time.sleep(POLL_SECONDS)
        finally:
            # Reached on exit, failure and run termination alike: leave no process behind.
            status = process.stop()
            context.log.info(f"streaming.{job} ended with status {status}")
    # The session is closed, so it has read every message: the last ones count too.
    _log_events(context, session, seen, events)
    if status != 0:
        tail = _tail(log_path)
        raise dg.Failure(
            description=f"streaming.{job} exited with status {status}",
            metadata={"log_tail": dg.MetadataValue.text(tail), "log": str(log_path)},
        )


def _log_events(
    context: dg.OpExecutionContext,
    session: dg.PipesSession,
    seen: int,
    events: Callable[[Any], list[Any]],
) -> int:
    """Log the events of the messages after the first `seen`; returns how many were seen."""
    messages = session.get_custom_messages()
    for message in messages[seen:]:
        for event in events(message):
            context.log_event(event)
    return len(messages)


def _tail(path: os.PathLike[str], lines: int = 40) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except FileNotFoundError:
        return ""
