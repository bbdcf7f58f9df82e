"""The VS Code extension: its settings are the server's, with its defaults, and its command ids
are its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lore.config import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "package.json"
CLIENT_ONLY = ("server.", "trace.")


def snake(key: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()


def test_contributed_settings_exist_with_the_same_defaults() -> None:
    properties = json.loads(PACKAGE.read_text())["contributes"]["configuration"]["properties"]
    defaults = Settings().model_dump(by_alias=True)
    checked = 0
    for key, spec in properties.items():
        path = key.removeprefix("lore.")
        if path.startswith(CLIENT_ONLY):
            continue
        section, name = path.split(".", 1)
        assert section in defaults, f"{key}: no such section"
        assert snake(name) in defaults[section], f"{key}: no such setting"
        assert spec["default"] == defaults[section][snake(name)], key
        assert spec.get("description") or spec.get("markdownDescription"), key
        checked += 1
    assert checked >= 25


def test_every_server_setting_is_contributed() -> None:
    properties = json.loads(PACKAGE.read_text())["contributes"]["configuration"]["properties"]
    contributed = {snake(key.removeprefix("lore.")) for key in properties}
    defaults = Settings().model_dump(by_alias=True)
    missing = [
        f"{section}.{name}"
        for section, values in defaults.items()
        for name in values
        if f"{section}.{name}" not in contributed
    ]
    assert not missing, f"not in package.json: {missing}"


def test_the_extension_takes_no_command_id_the_server_advertises() -> None:
    """vscode-languageclient registers each advertised command as an editor command; one that
    the extension also registers stops the client from starting ("command already exists")."""
    from lore.lsp.server import create_server

    package = json.loads(PACKAGE.read_text())
    source = (PACKAGE.parent / "src" / "extension.ts").read_text()
    registered = set(re.findall(r'registerCommand\("([^"]+)"', source))
    assert {c["command"] for c in package["contributes"]["commands"]} <= registered
    advertised = set(create_server().protocol.fm.commands)
    assert "lore.server.ask" in advertised
    assert not registered & advertised, registered & advertised
