"""The CryptoViz code location: wires assets, checks, schedules, sensors and resources.

Kept thin on purpose; each piece lives in a module of its own:
assets/ (one module per pipeline stage), checks.py, schedules.py, sensors.py, resources.py,
lake_maintenance.py.
Heavy libraries (Spark, Great Expectations) are imported inside the code that needs them,
so the location loads fast.
"""

import dagster as dg

from cryptoviz_assets import assets, checks, lake_maintenance, schedules, sensors
from cryptoviz_assets.assets import marts
from cryptoviz_assets.quality.checks import gx_checks
from cryptoviz_assets.resources import build_resources

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(assets),
    asset_checks=[
        *dg.load_asset_checks_from_package_module(assets),
        *dg.load_asset_checks_from_modules([checks]),
        *gx_checks,
    ],
    jobs=[*schedules.jobs, *sensors.jobs, *marts.jobs, *lake_maintenance.jobs],
    schedules=[*schedules.schedules, *marts.schedules, *lake_maintenance.schedules],
    sensors=[*sensors.sensors, *marts.sensors],
    resources=build_resources(),
    # Every step in its run's own process: the default multiprocess executor would start a
    # second interpreter per step, importing the whole location again (~4 s of CPU on 2
    # cores), for jobs whose steps run one after the other anyway.
    executor=dg.in_process_executor,
)
