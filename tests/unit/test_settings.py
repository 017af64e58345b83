"""Training settings are declared once: studio.toml, run config, --set and the reference agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from studio import settings, settings_doc
from studio.config import parse_config
from studio.errors import InputError, StudioError
from studio.train.runconfig import RunConfig
from studio.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]


def _with_train(workspace: Path, train: str) -> None:
    path = workspace / "studio.toml"
    text = path.read_text(encoding="utf-8")
    head, _, _ = text.partition("[train]")
    path.write_text(head + '[train]\npreset = "cpu-tiny"\n' + train, encoding="utf-8")


def _prepared(workspace: Path, host, **kwargs) -> dict:
    from studio.dataset.service import build_dataset
    from studio.train.runner import prepare_run
    from studio.workspace import Workspace

    ws = Workspace(workspace)
    build_dataset(ws, host.parsers)
    run_dir = prepare_run(ws, host.adapters, run_id="r", **kwargs)
    return RunDir(run_dir).config()


def test_written_lr_survives_a_preset_that_sets_another_lr(zh_workspace, host):
    _with_train(zh_workspace, "lr = 2e-4\n")  # the default value, written on purpose
    assert host.adapters["tiny-qwen2"].presets[0].settings["lr"] != 2e-4
    config = _prepared(zh_workspace, host)
    assert config["preset"] == "cpu-tiny" and config["lr"] == 2e-4


def test_preset_beats_the_default_of_an_unwritten_key(zh_workspace, host):
    _with_train(zh_workspace, "")
    preset = host.adapters["tiny-qwen2"].presets[0].settings
    config = _prepared(zh_workspace, host, overrides={"lora_r": 2})
    assert config["lr"] == preset["lr"] and config["tokens_per_batch"] == preset["tokens_per_batch"]
    assert config["lora_r"] == 2  # an override beats the preset's lora_r


def test_resolve_order():
    values = settings.resolve(
        {"lr": 1e-4, "seed": 42}, {"lr": 1e-3, "seed": 7, "lora_r": 16}, {"seed": 3}
    )
    assert values["lr"] == 1e-4 and values["seed"] == 3 and values["lora_r"] == 16
    assert values["epochs"] == settings.SETTINGS["epochs"].default
    assert set(values) == set(settings.SETTINGS)


@pytest.mark.parametrize(
    "key, value",
    [("lora_dropout", 1.0), ("lr", 1.0), ("epochs", 0), ("max_length", 8), ("attention", "fast")],
)
def test_studio_toml_run_config_and_set_share_one_rule(key, value):
    expected = re.escape(settings.SETTINGS[key].expected())
    written = json.dumps(value)
    with pytest.raises(InputError, match=f"\\[train\\] {key}: expected {expected}"):
        parse_config(f"[train]\n{key} = {written}\n")
    with pytest.raises(StudioError, match=f"{key}: expected {expected}"):
        RunConfig.from_dict({key: value})
    with pytest.raises(ValueError, match=f"{key}: expected"):
        settings.parse_assignments([f"{key}={value}"])


def test_values_inside_the_rules_pass_everywhere():
    config = parse_config("[train]\nlora_dropout = 0.95\nlr = 0.5\nrow_tokens = 0\n")
    assert config.train.lora_dropout == 0.95
    RunConfig.from_dict({"lora_dropout": 0.95, "lr": 0.5})
    assert settings.parse_assignments(
        ["lora_dropout=0.95", "gradient_checkpointing=yes", "lora_targets=q_proj, v_proj"]
    ) == {
        "lora_dropout": 0.95,
        "gradient_checkpointing": True,
        "lora_targets": ["q_proj", "v_proj"],
    }


def test_set_names_unknown_keys_and_bad_types():
    with pytest.raises(ValueError, match="unknown setting"):
        settings.parse_assignments(["learning_rate=1e-4"])
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        settings.parse_assignments(["lr"])
    with pytest.raises(ValueError, match="lora_r: expected an integer"):
        settings.parse_assignments(["lora_r=eight"])


def test_train_set_reaches_the_run_config(zh_workspace, host, capsys):
    from studio.cli import main
    from studio.dataset.service import build_dataset
    from studio.workspace import Workspace

    build_dataset(Workspace(zh_workspace), host.parsers)
    assert main(["train", str(zh_workspace), "--run", "x", "--set", "lr=nope"]) == 2
    assert "lr: expected a number" in capsys.readouterr().err


def test_every_run_setting_is_declared_once():
    from dataclasses import fields

    from studio.config import TrainConfig

    run_keys = {f.name for f in fields(RunConfig)} - {"model", "character", "persona"}
    toml_keys = {f.name for f in fields(TrainConfig)} - {"preset"}
    assert run_keys == toml_keys == set(settings.SETTINGS)


def test_settings_reference_is_up_to_date():
    path = ROOT / "docs" / "settings.md"
    assert path.read_text(encoding="utf-8") == settings_doc.reference(), (
        "docs/settings.md is stale: python -m studio.settings_doc > docs/settings.md"
    )
    for name in settings.SETTINGS:
        assert f"- `{name}` " in path.read_text(encoding="utf-8")


def test_init_points_at_the_reference(tmp_path):
    from studio.workspace import create_workspace

    create_workspace(tmp_path / "new", character="Ann")
    text = (tmp_path / "new" / "studio.toml").read_text(encoding="utf-8")
    assert "docs/settings.md" in text
    parse_config(text)
