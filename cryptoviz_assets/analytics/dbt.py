"""The dbt project as Dagster sees it, with its manifest prepared before anything loads it.

dagster-dbt reads `target/manifest.json` when the code location builds its definitions.
`make setup` prepares it (`python -m cryptoviz_assets.analytics.dbt`, a `dbt parse`); when it is
missing or older than the project's files, `ensure_manifest()` runs the same `dbt parse`
(offline, a few seconds) under a file lock, so the code location loads outside
`dagster dev` too and never shows a stale set of models.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock

from cryptoviz_assets.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt of this environment, even when .venv/bin is not on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def project_flags() -> list[str]:
    """Where dbt finds the project and its profiles.yml (the same folder)."""
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def _newest_source_mtime() -> float:
    files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def ensure_manifest() -> Path:
    """The manifest path, (re)parsing the project first if it is missing or older than
    the project's files (a stale manifest would hide new models and tests from Dagster)."""
    manifest = dbt_project().manifest_path
    if _is_current(manifest):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(manifest.with_suffix(".parse-lock")), timeout=120):
        if not _is_current(manifest):  # another process may have parsed meanwhile
            env = {**os.environ, "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
            argv = [
                dbt_executable(),
                "parse",
                "--quiet",
                *project_flags(),
                "--target-path",
                str(manifest.parent),
            ]
            subprocess.run(argv, env=env, cwd=DBT_PROJECT_DIR, check=True)
    return manifest


def _is_current(manifest: Path) -> bool:
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime()


if __name__ == "__main__":  # `make setup`: prepare the manifest once, before anything loads it
    print(f"dbt manifest: {ensure_manifest()}")
    # profiles.yml's default extension directory, so a bare `dbt build` in dbt_project/
    # reads the Delta lake offline too (Dagster and the CLI lay out their own first).
    from cryptoviz_assets.analytics.delta_reader import extension_directory

    print(f"DuckDB extensions: {extension_directory(PROJECT_ROOT / 'var' / 'duckdb_extensions')}")
