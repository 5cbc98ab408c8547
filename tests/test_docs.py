"""The README stays true: every setting and every command is documented."""

import re
from pathlib import Path

import pytest

from kb.cli import app
from kb.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name):
    field = Settings.model_fields[name]
    row = re.search(rf"^\| `KB_{name.upper()}` \| `([^`]*)` \| (.+) \|$", README, re.MULTILINE)
    assert row, f"KB_{name.upper()} is missing from the README settings table"
    assert row.group(1) == str(field.default)


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])
def test_every_command_is_in_the_readme(command):
    assert f"`kb {command}" in README
