"""The code location loads, and its assets materialize on a real Dagster instance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from confluent_kafka.admin import AdminClient

from cryptoviz_assets.settings import Settings


def test_definitions_load_and_validate() -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("kafka_topics") in graph.get_all_asset_keys()


def test_code_location_does_not_import_heavy_libraries() -> None:
    """Spark and Great Expectations load inside the assets that use them, not at load."""
    probe = (
        "import sys, cryptoviz_assets.definitions\n"
        "heavy = [m for m in ('pyspark', 'great_expectations') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_instance_uses_the_project_dagster_yaml(dagster_instance: dg.DagsterInstance) -> None:
    instance = dagster_instance
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_monitoring_enabled
    assert not instance.telemetry_enabled
    limits = instance.get_concurrency_config().run_queue_config
    assert limits is not None
    assert limits.max_concurrent_runs == 10
    keys = {limit["key"] for limit in limits.tag_concurrency_limits}
    assert keys == {"cryptoviz/collector", "cryptoviz/kind", "cryptoviz/warehouse"}
    assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_materialize_kafka_topics_on_a_real_instance(
    project_env: Settings, dagster_instance: dg.DagsterInstance
) -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    instance = dagster_instance
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("kafka_topics")]
    )
    assert result.success

    # The topics really exist on the broker, with the configured partitions.
    metadata = AdminClient(project_env.kafka_client_config()).list_topics(timeout=5)
    for name in project_env.topics.values():
        assert len(metadata.topics[name].partitions) == project_env.kafka_topic_partitions

    # The materialization is recorded in the instance, with its metadata.
    event = instance.get_latest_materialization_event(dg.AssetKey("kafka_topics"))
    assert event is not None
    assert event.asset_materialization is not None
    meta = event.asset_materialization.metadata
    assert meta["topics_created"].value == len(project_env.topics) == 6
    assert meta["bootstrap_servers"].value == project_env.bootstrap_servers
    assert meta["partitions"].value == dict.fromkeys(project_env.topics.values(), 3)

    # The blocking check ran and passed.
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("kafka_topics_complete", True)]

    # Materializing again creates nothing new.
    again = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("kafka_topics")])
    second = again.asset_materializations_for_node("kafka_topics")[0]
    assert second.metadata["topics_created"].value == 0


@pytest.mark.parametrize("missing", ["dlq"])
def test_topics_check_fails_when_a_topic_is_missing(
    project_env: Settings, tmp_path: Path, missing: str
) -> None:
    from cryptoviz_assets.defs.resources import KafkaResource
    from cryptoviz_assets.defs.streams.assets import kafka_topics_complete
    from cryptoviz_assets.kafka.topics import ensure_topics

    ensure_topics(project_env)
    admin = AdminClient(project_env.kafka_client_config())
    admin.delete_topics([project_env.topics[missing]])[project_env.topics[missing]].result(10)
    result = kafka_topics_complete(
        dg.build_asset_check_context(), kafka=KafkaResource.from_settings(project_env)
    )
    assert not result.passed
    assert result.metadata["problems"].value == {project_env.topics[missing]: "missing"}


def test_lake_maintenance_job_and_schedule(dagster_instance: dg.DagsterInstance) -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    job = defs.resolve_job_def("lake_maintenance")
    assert job.tags["cryptoviz/kind"] == "maintenance"
    schedule = defs.resolve_schedule_def("lake_maintenance_schedule")
    assert schedule.job_name == "lake_maintenance"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # Never two runs at once: the instance queues a second one behind the first.
    limits = dagster_instance.get_concurrency_config().run_queue_config
    assert limits is not None
    assert {"key": "cryptoviz/kind", "value": "maintenance", "limit": 1} in (
        limits.tag_concurrency_limits
    )


IMPORT_ALL = """
import importlib, pkgutil, sys
import cryptoviz_assets
MODULES = [m.name for m in pkgutil.walk_packages(cryptoviz_assets.__path__, "cryptoviz_assets.")
           if not m.name.endswith("__main__")]
"""


def test_importing_the_code_location_does_nothing() -> None:
    """No settings read, no subprocess (a dbt parse), no file opened, no connection made
    while any module of cryptoviz_assets is imported: definitions are built when loaded."""
    libraries = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL + "for n in MODULES: importlib.import_module(n)\n"
         "print('\\n'.join(m for m in sys.modules if not m.startswith('cryptoviz_assets')))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    probe = IMPORT_ALL + (
        "import builtins, io, socket, subprocess\n"
        f"for name in {libraries!r}:\n"
        "    try: importlib.import_module(name)\n"
        "    except Exception: pass\n"
        "from cryptoviz_assets import settings\n"
        "done = []\n"
        "def refuse(what):\n"
        "    def _refuse(*args, **kwargs):\n"
        "        done.append(what)\n"
        "        raise RuntimeError(what)\n"
        "    return _refuse\n"
        "settings.Settings.__init__ = refuse('settings read')\n"
        "subprocess.Popen.__init__ = refuse('subprocess started')\n"
        "socket.socket.connect = refuse('connection made')\n"
        "builtins.open = io.open = refuse('file opened')\n"
        "for n in MODULES:\n"
        "    if n != 'cryptoviz_assets.settings': importlib.import_module(n)\n"
        "print(len(MODULES), sorted(set(done)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    modules, effects = out.stdout.split(" ", 1)
    assert int(modules) > 50
    assert effects.strip() == "[]"


def test_the_streaming_jobs_import_nothing_from_dagster() -> None:
    """streaming/ is plain PySpark: it runs on a Spark cluster without Dagster installed
    (Dagster Pipes' client is imported only when a job runs under Pipes)."""
    probe = (
        "import importlib, pkgutil, sys, streaming\n"
        "for m in pkgutil.walk_packages(streaming.__path__, 'streaming.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted({n for n in sys.modules if n.split('.')[0].startswith('dagster')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
