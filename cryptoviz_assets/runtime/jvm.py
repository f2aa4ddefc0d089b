"""The JVM parts the project runs: Apache Kafka, Spark's Kafka connector and Delta Lake.

Their jars come from Maven Central, pinned in `jvm/<name>/pom.xml`, and `make setup` copies
them into `var/jars/<name>` once (`make jars`); after that everything runs offline. This
module only finds them, and says how to get them when they are missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cryptoviz_assets.settings import PROJECT_ROOT

JARS_DIR = Path(os.environ.get("CRYPTOVIZ_JARS_DIR", PROJECT_ROOT / "var" / "jars"))
KAFKA = "kafka"  # the broker, its tools and a logging binding
SPARK_KAFKA = "spark-kafka"  # spark-sql-kafka-0-10 and what PySpark does not already ship
DELTA = "delta"  # delta-spark_<spark>_2.13 (Delta Lake) and what PySpark does not already ship


def jars(name: str) -> list[Path]:
    """The jars of one `jvm/<name>` bundle, sorted; an error says how to fetch them."""
    found = sorted((JARS_DIR / name).glob("*.jar"))
    if not found:
        raise FileNotFoundError(
            f"no jars in {JARS_DIR / name}: run `make setup` (it fetches jvm/{name}/pom.xml's "
            "dependencies with Maven once; Java 17 and Maven are required)"
        )
    return found


def classpath(name: str) -> str:
    return os.pathsep.join(str(jar) for jar in jars(name))


def java() -> str:
    """The `java` of JAVA_HOME if set, else the one on PATH."""
    if home := os.environ.get("JAVA_HOME"):
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise FileNotFoundError("java not found: Java 17 is required (set JAVA_HOME or PATH)")
    return found
