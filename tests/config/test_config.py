"""Settings: sources, their order, errors that name the key, and the reference doc."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore.config import SettingsError, load_settings, reference_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_work_with_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.llm.provider == "extractive"
    assert settings.index_dir(tmp_path) == tmp_path / ".lore"


def test_lore_toml_then_environment_then_overlays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lore.toml").write_text(
        "[hover]\nmin_score = 0.7\nmax_lines = 4\n[llm]\ntimeout_s = 12\n", encoding="utf-8"
    )
    monkeypatch.setenv("LORE_LLM__TIMEOUT_S", "9")
    settings = load_settings(tmp_path, {"hover": {"min_score": 0.9}})
    assert settings.hover.min_score == 0.9  # overlay beats the file
    assert settings.hover.max_lines == 4  # the file's other keys stay
    assert settings.llm.timeout_s == 9  # the environment beats the file


def test_later_overlays_win(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"raise": {"max_rounds": 1}}, {"raise": {"max_rounds": 3}})
    assert settings.raise_.max_rounds == 3


def test_pyproject_tool_lore_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.lore.index]\nextensions = [".MD", "rst"]\n', encoding="utf-8"
    )
    assert load_settings(tmp_path).index.extensions == ["md", "rst"]


def test_endpoints_list_and_key_from_the_named_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_config_home: Path
) -> None:
    (user_config_home / "lore").mkdir()
    (user_config_home / "lore" / "lore.toml").write_text(
        '[llm]\nprovider = "openai"\n[[llm.endpoints]]\nbase_url = "http://127.0.0.1:9/v1"\n'
        'model = "m"\napi_key_env = "TEST_LORE_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TEST_LORE_KEY", "sk-secret-value")
    settings = load_settings(tmp_path)
    key = settings.llm.endpoints[0].api_key()
    assert key is not None and key.get_secret_value() == "sk-secret-value"
    assert "sk-secret-value" not in repr(settings)
    assert "sk-secret-value" not in str(settings.public_dict())


@pytest.mark.parametrize(
    ("overlay", "key"),
    [
        ({"llm": {"timeout_s": "soon"}}, "llm.timeout_s"),
        ({"hover": {"min_score": 3}}, "hover.min_score"),
        ({"index": {"extensions": []}}, "index.extensions"),
        ({"llm": {"provider": "magic"}}, "llm.provider"),
        ({"hovr": {"enabled": True}}, "hovr"),
    ],
)
def test_invalid_values_name_their_key(tmp_path: Path, overlay: dict, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, overlay)
    assert caught.value.key == key
    assert key in str(caught.value)


def test_invalid_environment_value_names_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LORE_QUEUE__WORKERS", "many")
    with pytest.raises(SettingsError, match="queue.workers"):
        load_settings(tmp_path)


def test_environment_variables_in_any_case_as_text_or_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("lore_hover__max_lines", "3")
    monkeypatch.setenv("LORE_INDEX__EXTENSIONS", '["md", "rst"]')
    monkeypatch.setenv("LORE_RAISE", '{"max_rounds": 0}')
    monkeypatch.setenv("LORE_DEBUG", "1")  # names no setting: not Lore's settings at all
    settings = load_settings(tmp_path)
    assert settings.hover.max_lines == 3
    assert settings.index.extensions == ["md", "rst"]
    assert settings.raise_.max_rounds == 0
    monkeypatch.setenv("LORE_INDEX__EXCLUDE", "[not json")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    assert caught.value.key == "index.exclude"


def test_broken_toml_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "lore.toml").write_text("[llm\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="lore.toml"):
        load_settings(tmp_path)


def test_reference_doc_lists_every_setting() -> None:
    assert reference_markdown() in DOCS.read_text(encoding="utf-8"), (
        "docs/configuration.md is out of date: regenerate its table with `python -m lore.config`"
    )
