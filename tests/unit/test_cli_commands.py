"""The subcommand convention: each stage registers its own commands; ``--help`` imports none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from studio.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("corpus", "dataset", "augment", "train", "chat", "serve", "eval", "export", "llm", "tui")


def _loaded_after(code: str) -> list[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
    )
    probe = (
        f"import sys, contextlib, io\nfrom studio.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    {code}\n"
        "sys.__stdout__.write(__import__('json').dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_every_command_has_a_handler_from_its_own_stage():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(choices) == list(COMMANDS)
    for name, (module, _summary) in COMMANDS.items():
        handler = choices[name].get_default("handler")
        assert handler is not None and handler.__module__ == module, name


def test_top_level_help_imports_no_stage():
    loaded = _loaded_after("main(['--help'])")
    stages = [m for m in loaded if m.split(".")[:2] in [["studio", s] for s in STAGES]]
    assert stages == []
    assert not {"torch", "transformers", "textual"} & set(loaded)


def test_a_command_imports_only_its_own_stage_commands():
    loaded = _loaded_after("main(['runs', '--help'])")
    commands = [m for m in loaded if m.startswith("studio.") and m.endswith(".commands")]
    assert commands == ["studio.train.commands"]


def test_a_command_usage_names_the_command(capsys):
    parser = build_parser(["studio.train.commands"])
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert choices["runs"].format_usage().startswith("usage: persona-studio runs [-h]")
