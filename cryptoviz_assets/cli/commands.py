"""`cryptoviz`: the command line for running the platform locally."""

from __future__ import annotations

from collections.abc import Iterator

import click

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.runtime import services
from cryptoviz_assets.runtime.processes import Daemon
from cryptoviz_assets.settings import get_settings


@click.group()
def main() -> None:
    """CryptoViz: crypto market intelligence from collectors to marts."""


@main.group()
def broker() -> None:
    """The embedded Apache Kafka broker, one KRaft node (development, demo and CI)."""


@broker.command("start")
def broker_start() -> None:
    """Start the embedded broker and create the project's topics."""
    settings = get_settings()
    if not settings.uses_embedded_broker:
        click.echo(f"KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}: no embedded broker.")
    for topic in services.start_broker(settings):
        state = "created" if topic.created else "exists"
        click.echo(f"topic {topic.name}: {topic.partitions} partitions ({state})")
    click.echo(EmbeddedBroker.from_settings(settings).status())


@broker.command("stop")
def broker_stop() -> None:
    """Stop the embedded broker gracefully (its data is kept)."""
    embedded = EmbeddedBroker.from_settings(get_settings())
    click.echo("broker stopped" if embedded.stop() else "broker was not running")


@broker.command("status")
def broker_status() -> None:
    """Say whether the embedded broker is running and ready."""
    click.echo(EmbeddedBroker.from_settings(get_settings()).status())


@main.group()
def replay() -> None:
    """The replay server: the sources' APIs on 127.0.0.1, from recorded payloads."""


@replay.command("start")
def replay_start() -> None:
    """Start the replay server in the background."""
    settings = get_settings()
    pid = services.start_replay_server(settings)
    scenario = settings.replay_scenario.value
    click.echo(f"replay server ({scenario}) at {settings.replay_url}, PID {pid}")


@replay.command("stop")
def replay_stop() -> None:
    """Stop the replay server."""
    daemon = Daemon(services.REPLAY_DAEMON_NAME, get_settings().run_dir)
    click.echo("replay server stopped" if daemon.stop() else "replay server was not running")


@main.command("settings")
def show_settings() -> None:
    """Print every setting (secrets masked)."""
    for name, value in get_settings().describe().items():
        click.echo(f"{name}={value}")


@main.command("demo")
@click.option("--no-ui", is_flag=True, help="Run the pipeline once, print a summary and exit.")
def demo(no_ui: bool) -> None:
    """Start the services, run the offline demo pipeline, then start dagster dev."""
    from cryptoviz_assets.cli.demo import (
        HISTORY_TICKS,
        format_summary,
        release_market,
        run_demo_pipeline,
    )

    settings = get_settings()
    if not settings.is_replay:
        raise click.ClickException("the demo runs offline: set SOURCE_MODE=replay")
    ui = Daemon(services.DAGSTER_DAEMON_NAME, settings.run_dir).process()
    if ui is not None:  # its streams would share the demo's checkpoints
        raise click.ClickException(
            f"the demo is already running (dagster dev, PID {ui.pid}) at "
            f"http://127.0.0.1:{settings.dagster_port}; `make stop` first to run it again"
        )
    services.start_broker(settings)
    click.echo(f"Kafka ready at {settings.bootstrap_servers}")
    services.start_replay_server(settings, history_ticks=HISTORY_TICKS)
    click.echo(f"Replay server ({settings.replay_scenario.value}) at {settings.replay_url}")
    click.echo(f"Running the pipeline (details: {settings.run_dir / 'demo.log'})")
    report = run_demo_pipeline(settings)
    click.echo("\n" + format_summary(report, settings))
    if no_ui:
        if not report.ok:
            raise SystemExit(1)
        return
    release_market(settings)  # from here on the market moves with the wall clock
    pid = services.start_dagster_dev(settings)
    click.echo(
        f"\nDagster UI:  http://127.0.0.1:{settings.dagster_port}  (dagster dev, PID {pid})\n"
        "             schedules keep collecting, sensors keep the streams running,\n"
        "             the marts rebuild as data lands\n"
        f'Query:       .venv/bin/cryptoviz sql "select * from marts.fct_anomaly_episodes"\n'
        f"Logs:        {settings.run_dir}\n"
        "Stop it all: make stop\n"
    )


@main.command("sql")
@click.argument("statement")
@click.option("--max-rows", default=100, show_default=True, help="Rows to print at most.")
def sql(statement: str, max_rows: int) -> None:
    """Run SQL against the published marts snapshot (read-only; never waits for a build).

    The snapshot only: no file is read or written, no database attached, no extension loaded.
    """
    from cryptoviz_assets.analytics.warehouse import ReaderRefusedError, query

    path = get_settings().warehouse_path
    try:
        result = query(statement, path)
    except (FileNotFoundError, ReaderRefusedError) as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:  # duckdb errors: show the message, not a traceback
        raise click.ClickException(f"{type(error).__name__}: {error}") from error
    click.echo(format_table(result.columns, result.rows[:max_rows]))
    shown = min(len(result.rows), max_rows)
    click.echo(
        f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
        + (f", {shown} shown" if shown < len(result.rows) else "")
        + ")"
    )


def format_table(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    """A plain-text table: right-aligned numbers, left-aligned text, NULL for None."""
    if not columns:
        return "OK"
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(r) for r in cells)])


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@main.command("docs")
@click.option("--port", default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option("--no-serve", is_flag=True, help="Only generate the docs.")
def docs(port: int, no_serve: bool) -> None:
    """Generate the dbt docs (offline) and serve them on 127.0.0.1."""
    from cryptoviz_assets.analytics import docs as dbt_docs

    index = dbt_docs.generate(get_settings())
    click.echo(f"dbt docs generated: {index}")
    if not no_serve:
        click.echo(f"Serving on http://127.0.0.1:{port} (Ctrl-C stops)")
        dbt_docs.serve(port)


@main.command("stop")
def stop() -> None:
    """Stop every process the project started, by PID."""
    stopped = services.stop_all(get_settings())
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@main.command("sentiment")
@click.argument("texts", nargs=-1)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line: text, label, score."
)
def sentiment(texts: tuple[str, ...], as_json: bool) -> None:
    """Score headlines (arguments, or one per line on stdin) with the news stream's model.

    Prints the label (positive, neutral or negative) and the score in [-1, 1] per line.
    """
    import itertools
    import json
    import sys

    from streaming.sentiment import score_many

    lines: Iterator[str] = iter(texts) if texts else (line.rstrip("\r\n") for line in sys.stdin)
    while batch := list(itertools.islice(lines, 256)):  # batches score faster, output streams
        for text, result in zip(batch, score_many(batch), strict=True):
            if as_json:
                record = {"text": text, "label": result.label, "score": round(result.score, 4)}
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                click.echo(f"{result.label:<8} {result.score:+.3f}  {text}")


if __name__ == "__main__":
    main()
