"""`make docs`: generate the dbt docs offline and serve them on 127.0.0.1.

The catalog (column types, row counts) is read from a private copy of the published
warehouse snapshot, so generating docs never touches the file dbt is building.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptoviz_assets.analytics.dbt import DBT_PROJECT_DIR, dbt_executable, project_flags
from cryptoviz_assets.analytics.warehouse import dbt_env
from cryptoviz_assets.settings import Settings

DOCS_TARGET = DBT_PROJECT_DIR / "target" / "docs"


def generate(settings: Settings) -> Path:
    """Write the docs site into dbt_project/target/docs; return its index.html."""
    with tempfile.TemporaryDirectory(prefix="cryptoviz-docs-") as tmp:
        database = Path(tmp) / "catalog.duckdb"
        if settings.warehouse_path.exists():
            shutil.copyfile(settings.warehouse_path, database)
        # dbt's usual environment, but reading the private copy
        env = {**os.environ, **dbt_env(settings), "CRYPTOVIZ_DBT_DUCKDB_PATH": str(database)}
        argv = [
            dbt_executable(),
            "docs",
            "generate",
            "--static",
            *project_flags(),
            "--target-path",
            str(DOCS_TARGET),
        ]
        subprocess.run(argv, env=env, cwd=DBT_PROJECT_DIR, check=True)
    return DOCS_TARGET / "index.html"


def serve(port: int) -> None:
    """Serve the generated docs on 127.0.0.1 until interrupted."""
    argv = [
        dbt_executable(),
        "docs",
        "serve",
        *project_flags(),
        "--target-path",
        str(DOCS_TARGET),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-browser",
    ]
    subprocess.run(argv, env={**os.environ, "DO_NOT_TRACK": "1"}, cwd=DBT_PROJECT_DIR, check=True)
