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
        "[train]\nepochs = 5\nmax_length = 512\ntokens_per_batch = 512\n"
        "eval_every = 0\nsave_every = 2\n",
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


PLAY_ZH = """第1幕
（茶馆，清晨）
老周：阿蘅，今天的茶怎么这样苦？
阿蘅：茶不苦，是您心里苦。昨夜又输了棋吧？
老周：你这丫头，嘴上从不饶人。
阿蘅：饶人容易，饶棋难。

第2幕
（河边）
小梅：姐姐，船什么时候来？
阿蘅：等雾散了，船自然就来。急也没用。
小梅：我怕赶不上集市。
阿蘅：集市天天有，好天气不常有。

第3幕
（茶馆后院）
掌柜：阿蘅，账本又对不上了。
阿蘅：对不上就再对一遍，钱不会自己长腿跑掉。
掌柜：你说得轻巧。
阿蘅：轻巧的是算盘，不是我。

第4幕
（集市）
小梅：这把伞多少钱？
阿蘅：先别问价，看看伞骨结不结实。
小贩：姑娘好眼力，这是上好的竹子。
阿蘅：好竹子不怕看，您说是不是？

第5幕
（雨夜）
老周：下这么大的雨，你还出门？
阿蘅：雨大，路还是那条路。我去给掌柜送伞。
老周：带上灯笼。
阿蘅：灯笼我拿着，心也就亮了。

第6幕
（茶馆，傍晚）
掌柜：今天生意怎么样？
阿蘅：客人不多，话倒不少。
小梅：姐姐又在说笑。
阿蘅：说笑不要钱，茶才要钱。
"""


@pytest.fixture
def persona_workspace(tmp_path: Path) -> Path:
    """A small Chinese play workspace (character 阿蘅) with held-out scenes, on tiny-qwen2."""
    root = tmp_path / "persona-ws"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "play.txt").write_text(PLAY_ZH, encoding="utf-8")
    (root / "studio.toml").write_text(
        '[character]\nname = "阿蘅"\naliases = ["蘅丫头"]\n'
        'persona = "你是阿蘅，茶馆里的伙计，说话利落，爱打趣。"\n\n'
        "[dataset]\neval_fraction = 0.4\nseed = 3\n\n"
        '[model]\nname = "tiny-qwen2"\nsource = "tiny"\n\n'
        "[train]\nepochs = 1\nmax_length = 512\ntokens_per_batch = 1024\n"
        "eval_every = 0\nsave_every = 0\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def persona_run(persona_workspace: Path, host) -> Path:
    """A run folder as the trainer leaves it.

    It has a random (non-zero) LoRA adapter on tiny-qwen2.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from studio.dataset.service import build_dataset
    from studio.fsutil import atomic_write_json
    from studio.train.base_model import load_model, model_spec
    from studio.train.events import FinishedEvent
    from studio.train.rundir import RunDir
    from studio.train.runner import prepare_run
    from studio.workspace import Workspace

    ws = Workspace(persona_workspace)
    build_dataset(ws, host.parsers)
    run_dir = prepare_run(ws, host.adapters, run_id="r1")
    loaded = load_model(
        model_spec(ws.config.model, ws.root), host.adapters, device=torch.device("cpu")
    )
    torch.manual_seed(0)
    model = get_peft_model(
        loaded.model,
        LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj", "down_proj"],
            init_lora_weights=False,
        ),
    )
    run = RunDir(run_dir)
    model.save_pretrained(str(run.adapter_dir))
    loaded.tokenizer.save_pretrained(str(run.adapter_dir))
    atomic_write_json(
        run.adapter_dir / "persona.json",
        {
            "character": "阿蘅",
            "persona": ws.config.character.persona,
            "base_model": ws.config.model.name,
            "chat_template": loaded.tokenizer.chat_template,
            "end_of_turn_ids": loaded.end_of_turn_ids,
        },
    )
    run.write_events([FinishedEvent(step=1, adapter="adapter")])
    return run_dir
