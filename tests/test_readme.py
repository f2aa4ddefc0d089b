"""The README is the users' contract: its commands and settings must stay true."""

from __future__ import annotations

import re

from cryptoviz_assets.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text()


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return str(alias) if alias else field.upper()


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", README, flags=re.MULTILINE))
    expected = {env_name(field) for field in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README table"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_readme_commands_exist_in_the_makefile() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    for command in set(re.findall(r"make ([a-z-]+)", README)):
        assert command in targets, f"README mentions `make {command}`, the Makefile lacks it"
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci


def test_layout_table_matches_the_tree() -> None:
    """Every path the layout table names exists, and every package of the code location
    and every domain folder under defs/ is in it."""
    section = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE)
    listed = {path.rstrip("/") for row in rows for path in re.findall(r"`([^`]+)`", row)}
    for path in listed:
        assert (PROJECT_ROOT / path).exists(), f"the README's layout names {path}: not found"
    package = PROJECT_ROOT / "cryptoviz_assets"
    folders = [p for p in (*package.iterdir(), *(package / "defs").iterdir()) if p.is_dir()]
    for folder in folders:
        if (folder / "__init__.py").exists() and folder.name != "defs":
            relative = str(folder.relative_to(PROJECT_ROOT))
            assert relative in listed, f"{relative} is missing from the README's layout"
