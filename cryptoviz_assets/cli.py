"""`cryptoviz`: the command line for running the platform locally."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from cryptoviz_assets import services
from cryptoviz_assets.broker import EmbeddedBroker
from cryptoviz_assets.settings import PROJECT_ROOT, get_settings


@click.group()
def main() -> None:
    """CryptoViz: crypto market intelligence from collectors to marts."""


@main.group()
def broker() -> None:
    """The embedded Kafka-protocol broker (development, demo and CI)."""


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


@main.command("settings")
def show_settings() -> None:
    """Print every setting (secrets masked)."""
    for name, value in get_settings().describe().items():
        click.echo(f"{name}={value}")


@main.command("demo")
@click.option("--no-ui", is_flag=True, help="Run the pipeline once and exit; no dagster dev.")
def demo(no_ui: bool) -> None:
    """Start the services, run the offline demo pipeline, then start dagster dev."""
    settings = get_settings()
    services.start_broker(settings)
    click.echo(f"Kafka ready at {settings.bootstrap_servers}")
    _run_demo_pipeline(settings.var_dir)
    if no_ui:
        return
    pid = services.start_dagster_dev(settings)
    click.echo(
        f"\nDagster UI:  http://127.0.0.1:{settings.dagster_port}  (dagster dev, PID {pid})\n"
        f"Logs:        {settings.run_dir}\n"
        "Stop it all: make stop\n"
    )


def _run_demo_pipeline(var_dir: Path) -> None:
    """Materialize every asset once, as a run on the project's Dagster instance."""
    settings = get_settings()
    argv = [
        str(Path(sys.executable).with_name("dagster")),
        "asset",
        "materialize",
        "--module-name",
        "cryptoviz_assets.definitions",
        "--select",
        "*",
    ]
    click.echo("Materializing every asset once ...")
    subprocess.run(argv, env=services.dagster_env(settings), cwd=PROJECT_ROOT, check=True)


@main.command("stop")
def stop() -> None:
    """Stop every process the project started, by PID."""
    stopped = services.stop_all(get_settings())
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


if __name__ == "__main__":
    main()
