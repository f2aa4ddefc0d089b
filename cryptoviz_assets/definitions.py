"""The CryptoViz code location: wires assets, checks, schedules, sensors and resources.

Kept thin on purpose; each piece lives in a module of its own. Heavy libraries (Spark,
Great Expectations) are imported inside the assets that need them, so this loads fast.
"""

import dagster as dg

from cryptoviz_assets.assets import platform
from cryptoviz_assets.checks import kafka_topics_complete
from cryptoviz_assets.resources import KafkaResource

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([platform]),
    asset_checks=[kafka_topics_complete],
    resources={"kafka": KafkaResource()},
)
