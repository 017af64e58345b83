"""``export`` end to end: the adapter folder and a merged model plain transformers chats with."""

from __future__ import annotations

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.cli import main


def test_export_adapter_and_merged_model(persona_run, host, capsys):
    ws = persona_run.parent.parent
    assert main(["export", str(ws), "--merged"]) == 0
    out = capsys.readouterr()
    assert "relative logit error" in out.err
    adapter, merged = ws / "exports" / "r1" / "adapter", ws / "exports" / "r1" / "merged"

    # the adapter folder: peft files, tokenizer with template, persona, card
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "persona.json",
        "README.md",
        "tokenizer.json",
    } <= {p.name for p in adapter.iterdir()}
    record = json.loads((adapter / "persona.json").read_text(encoding="utf-8"))
    assert record["persona"].startswith("你是阿蘅") and record["end_of_turn"] == ["<|im_end|>"]
    assert (
        json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
        == "tiny-qwen2"
    )
    card = (merged / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nbase_model:") and "你是阿蘅" in card and "## Use" in card
    assert not list(merged.parent.glob(".tmp-*"))

    # plain transformers: no system message given, the template supplies the persona
    tokenizer = AutoTokenizer.from_pretrained(str(merged))
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你是谁？"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    assert "你是阿蘅" in tokenizer.decode(inputs["input_ids"][0])
    generated = model.generate(**inputs, max_new_tokens=10, do_sample=False)[
        0, inputs["input_ids"].shape[1] :
    ]

    # the studio's chat with the unmerged adapter says the same
    from studio.chat.persona import load_persona
    from studio.workspace import Workspace

    persona = load_persona(Workspace(ws), host.adapters, device=torch.device("cpu"))
    session = persona.session(sampling={"do_sample": False}, max_new_tokens=10)
    session.engine.vocab_size = None  # compare raw argmax, as plain generate does
    ours = session.reply("你是谁？")
    theirs = tokenizer.decode(generated, skip_special_tokens=True).strip()
    assert ours == theirs
    eos = model.generation_config.eos_token_id
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in (
        eos if isinstance(eos, list) else [eos]
    )

    # the exported adapter loads with peft on the base
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(str(persona.loaded.path))
    peft_model = PeftModel.from_pretrained(base, str(adapter))
    with torch.no_grad():
        a = peft_model(input_ids=inputs["input_ids"]).logits[0, -1]
        b = model(input_ids=inputs["input_ids"]).logits[0, -1]
    assert torch.allclose(a, b, atol=1e-4)


def test_export_of_a_missing_run_is_a_clear_error(persona_workspace, capsys):
    assert main(["export", str(persona_workspace), "--run", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
