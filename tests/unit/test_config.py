"""studio.toml validation: every error names the file, the line, the key and what was expected."""

from __future__ import annotations

import pytest

from studio.config import load_config, parse_config
from studio.errors import InputError


def test_defaults_when_empty():
    cfg = parse_config("")
    assert cfg.dataset.mode == "single"
    assert cfg.model.trust_remote_code is False


def test_wrong_type_names_file_line_key_and_expectation(tmp_path):
    path = tmp_path / "studio.toml"
    path.write_text(
        '[character]\nname = "甄嬛"\n\n[train]\nepochs = 3\nlr = "fast"\n', encoding="utf-8"
    )
    with pytest.raises(InputError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert err.value.line == 6
    assert "[train] lr" in message and "expected a number" in message and "'fast'" in message


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        parse_config("[dataset]\nmodee = 'multi'\n", "ws/studio.toml")
    assert err.value.line == 2
    assert "unknown key" in str(err.value) and "mode" in str(err.value)


def test_choice_and_range_checks():
    with pytest.raises(InputError, match="expected one of single, multi"):
        parse_config("[dataset]\nmode = 'triple'\n")
    with pytest.raises(InputError, match="eval_fraction") as err:
        parse_config("\n[dataset]\neval_fraction = 1.5\n")
    assert err.value.line == 3


def test_toml_syntax_error_has_a_line():
    with pytest.raises(InputError) as err:
        parse_config('[character]\nname = "unterminated\n', "x/studio.toml")
    assert err.value.line == 2 and "not valid TOML" in str(err.value)


def test_aliases_merge_character_and_roster():
    cfg = parse_config(
        '[character]\nname = "孙悟空"\naliases = ["悟空", "美猴王"]\n[roster]\naliases = { "皇帝" = ["皇上"] }\n'
    )
    assert cfg.aliases() == {"皇帝": ["皇上"], "孙悟空": ["悟空", "美猴王"]}


def test_shipped_workspace_config_is_valid():
    from tests.conftest import SHIPPED

    cfg = load_config(SHIPPED / "studio.toml")
    assert cfg.character.name == "JULIET" and cfg.character.persona
