"""Shared fixtures: a small screenplay workspace and the plugin host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "workspace"

SCRIPT_ZH = """第一集

第1幕
（御花园，春日）
宜修：妹妹今日气色真好。
莞莞（笑）：姐姐说笑了。昨夜睡得早些罢了。
宜修：皇上可曾来过？
莞莞：不曾。皇上：朝政繁忙，也是常事。
（风起）
宜修：天凉了，回去吧。

第2幕
（碎玉轩）
槿汐：小主，温太医来了。
莞莞：请他进来。
温实初：微臣给小主请安。
莞莞：温大人快请起。
莞莞：近来宫中可有什么新鲜事？
温实初：华妃娘娘又得了赏赐。
"""


@pytest.fixture
def host():
    from studio.plugins import load_host

    return load_host()


@pytest.fixture
def zh_workspace(tmp_path: Path) -> Path:
    """A tiny Chinese screenplay workspace whose character is 莞莞."""
    root = tmp_path / "ws"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "script.txt").write_text(SCRIPT_ZH, encoding="utf-8")
    (root / "studio.toml").write_text(
        '[character]\nname = "莞莞"\npersona = "你是莞莞，碎玉轩的小主，温婉聪慧。"\n\n'
        '[dataset]\neval_fraction = 0.0\n\n[model]\nname = "tiny-qwen2"\nsource = "tiny"\n\n'
        '[train]\nepochs = 5\nmax_length = 512\ntokens_per_batch = 512\neval_every = 0\nsave_every = 2\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture
def shipped_workspace(tmp_path: Path) -> Path:
    """A copy of the shipped workspace (studio.toml + corpus), outputs excluded."""
    root = tmp_path / "shipped"
    root.mkdir()
    shutil.copy(SHIPPED / "studio.toml", root / "studio.toml")
    shutil.copytree(SHIPPED / "corpus", root / "corpus")
    return root
