"""``export --gguf``: GGUF + Modelfile read back and compared; the vLLM folder as vLLM loads it."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.cli import main


@pytest.fixture(params=["tiny-qwen2", "tiny-llama"])
def persona_workspace(request, persona_workspace):
    toml = persona_workspace / "studio.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("tiny-qwen2", request.param), encoding="utf-8"
    )
    return persona_workspace


@pytest.mark.parametrize("qtype", ["f16", "bf16", "q8_0"])
def test_gguf_export_reads_back_and_renders_the_chat_prompt(persona_run, host, capsys, qtype):
    ws = persona_run.parent.parent
    assert main(["export", str(ws), "--gguf", "--type", qtype]) == 0
    out = capsys.readouterr()
    assert f"GGUF {qtype} read back by transformers" in out.err, out.err
    assert "Modelfile TEMPLATE renders the studio chat's" in out.err
    folder = ws / "exports" / "r1" / f"gguf-{qtype}"
    gguf_path = folder / f"r1-{qtype}.gguf"
    assert gguf_path.stat().st_size > 0 and not list(folder.parent.glob(".tmp-*"))
    persona = "你是阿蘅，茶馆里的伙计，说话利落，爱打趣。"
    eot = (
        "<|im_end|>"
        if "qwen2" in (ws / "studio.toml").read_text(encoding="utf-8")
        else "<|eot_id|>"
    )

    # the Modelfile: FROM the file, SYSTEM the persona, stop at the end of a turn
    from studio.export.ollama import parse_modelfile

    modelfile = parse_modelfile((folder / "Modelfile").read_text(encoding="utf-8"))
    assert modelfile["FROM"] == f"./{gguf_path.name}" and modelfile["SYSTEM"] == persona
    assert modelfile["stop"] == [eot]

    # independently of the export's own check: transformers reads the file, no system message given
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), gguf_file=gguf_path.name, dtype=torch.float32
    )
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你是谁？"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    assert persona in tokenizer.decode(ids[0])

    # ... and its logits are the base + exported adapter's, within the type's tolerance
    from peft import PeftModel

    from studio.export.gguf_check import TOLERANCE
    from studio.train.base_model import load_model, model_spec
    from studio.workspace import Workspace

    workspace = Workspace(ws)
    base = load_model(
        model_spec(workspace.config.model, ws), host.adapters, device=torch.device("cpu")
    ).model
    peft_model = PeftModel.from_pretrained(base, str(ws / "exports" / "r1" / "adapter")).eval()
    with torch.no_grad():
        a = peft_model(input_ids=ids).logits[0]
        b = model(input_ids=ids).logits[0]
    assert float((a - b).abs().max()) <= TOLERANCE[qtype] * float(a.abs().max())

    # the chat's own session, two turns in: Ollama's prompt from the Modelfile is the same tokens
    from studio.chat.persona import load_persona
    from studio.chat.session import render_prompt
    from studio.export.ollama import render_go_template

    chat = load_persona(workspace, host.adapters, device=torch.device("cpu")).session()
    chat.history = [
        {"role": "user", "content": "雨这么大？"},
        {"role": "assistant", "content": "雨大，路还是那条路。"},
    ]
    ours = render_prompt(chat.loaded.tokenizer, chat.messages("带上灯笼吗？"))
    text = render_go_template(
        modelfile["TEMPLATE"],
        [*chat.history, {"role": "user", "content": "带上灯笼吗？"}],
        system=modelfile["SYSTEM"],
    )
    bos = [tokenizer.bos_token_id] if eot == "<|eot_id|>" else []  # llama.cpp adds Llama-3's BOS
    assert bos + tokenizer(text, add_special_tokens=False)["input_ids"] == ours


def test_vllm_folder_loads_as_vllm_needs_it(persona_run, host, capsys):
    from peft import LoraConfig
    from transformers import AutoConfig

    from studio.export.vllm import SUPPORTED_TARGETS

    ws = persona_run.parent.parent
    assert main(["export", str(ws)]) == 0
    out = capsys.readouterr()
    folder = ws / "exports" / "r1" / "vllm"
    record = json.loads((folder / "serve.json").read_text(encoding="utf-8"))
    assert f"vLLM: {record['command']}" in out.out
    assert record["command"] == (
        f"vllm serve {record['base']} --enable-lora --lora-modules "
        f"persona={folder / 'adapter'} --max-lora-rank 8 "
        f"--chat-template {folder / 'chat_template.jinja'}"
    )
    config = AutoConfig.from_pretrained(record["base"])
    lora = LoraConfig.from_pretrained(str(folder / "adapter"))
    assert lora.r == 4 and set(lora.target_modules) <= SUPPORTED_TARGETS[config.model_type]
    assert lora.base_model_name_or_path == record["base"]
    tokenizer = AutoTokenizer.from_pretrained(record["base"])
    template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你是谁？"}],
        chat_template=template,
        tokenize=False,
        add_generation_prompt=True,
    )
    assert record["default_system"] in text and record["default_system"].startswith("你是阿蘅")
    assert "你是阿蘅" in (folder / "README.md").read_text(encoding="utf-8")


def test_gguf_refused_for_a_family_it_cannot_check_before_anything_is_written(
    persona_run, capsys, monkeypatch
):
    from studio.export import gguf_file

    monkeypatch.setattr(gguf_file, "WRITABLE", {})
    ws = persona_run.parent.parent
    assert main(["export", str(ws), "--gguf"]) == 2
    assert "is not exported as GGUF" in capsys.readouterr().err
    assert not (ws / "exports" / "r1").exists()
