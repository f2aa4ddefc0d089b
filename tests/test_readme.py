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
