"""GGUF writer, Ollama template renderer and vLLM folder rules, each shown able to fail."""

from __future__ import annotations

import json

import pytest
from studio_models.tiny import build_model, build_tokenizer

from studio.errors import StudioError
from studio.export import gguf_file, ollama, vllm
from studio.export.gguf_check import compare_logits, compare_prompts, load_gguf, reference_logits

PERSONA = '你是阿蘅，茶馆里的伙计。 She says "hi" and\nnever \\ escapes.'
EOT = {"qwen2": "<|im_end|>", "llama": "<|eot_id|>"}


def tiny(arch: str):
    tokenizer = build_tokenizer(arch)
    return build_model(arch, ((len(tokenizer) + 63) // 64) * 64).eval(), tokenizer


def write(tmp_path, arch: str, qtype: str = "f16"):
    model, tokenizer = tiny(arch)
    facts = gguf_file.write_gguf(
        model,
        tokenizer,
        tmp_path / f"{arch}.gguf",
        qtype=qtype,
        chat_template=tokenizer.chat_template,
        end_of_turn_ids=[tokenizer.convert_tokens_to_ids(EOT[arch])],
        name="t",
    )
    return model, tokenizer, facts


def test_go_template_renderer_follows_go_trimming_and_ollama_system_rule():
    template = (
        "A {{- if .System }} [{{ .System }}] {{- end }}\n"
        "{{ range .Messages }}<{{ .Role }}>{{ .Content }}\n{{- end }} Z"
    )
    messages = [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}]
    assert (
        ollama.render_go_template(template, messages, system="S")
        == "A [S]\n<system>S<user>u1<assistant>a1 Z"
    )
    assert ollama.render_go_template(template, messages) == "A\n<user>u1<assistant>a1 Z"
    # a request's own system message wins over the Modelfile's
    own = [{"role": "system", "content": "mine"}, *messages]
    assert "<system>mine" in ollama.render_go_template(template, own, system="S")
    with pytest.raises(StudioError, match="outside the subset"):
        ollama.render_go_template('{{ template "x" }}', messages)


def test_chatml_template_renders_what_the_jinja_template_renders():
    _, tokenizer = tiny("qwen2")
    messages = [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "好"},
        {"role": "user", "content": "再见"},
    ]
    jinja = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert (
        ollama.render_go_template(ollama.TEMPLATES["qwen2"], messages[1:], system=PERSONA) == jinja
    )


def test_modelfile_round_trips_persona_with_quotes_and_newlines():
    text = ollama.modelfile("m.gguf", "llama", PERSONA, ["<|eot_id|>"])
    parsed = ollama.parse_modelfile(text)
    assert text.startswith("FROM ./m.gguf\n")
    assert parsed["SYSTEM"] == PERSONA and parsed["TEMPLATE"] == ollama.TEMPLATES["llama"]
    assert parsed["stop"] == ["<|eot_id|>"]


@pytest.mark.parametrize("model_type", ["internlm2", "glm4", "mistral", "gemma2"])
def test_families_transformers_cannot_read_back_are_refused(model_type):
    with pytest.raises(StudioError, match=f"a '{model_type}' model is not exported as GGUF") as err:
        gguf_file.gguf_arch(model_type)
    assert "supported: llama, qwen2, qwen3" in str(err.value)


def test_byte_level_tokenizer_round_trips_and_keeps_special_tokens(tmp_path):
    _, tokenizer, facts = write(tmp_path, "llama")
    _, read = load_gguf(facts.path)
    text = "<|start_header_id|>user<|end_header_id|>\n\n你好 hello<|eot_id|>"
    assert (
        read(text, add_special_tokens=False)["input_ids"]
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    assert read.convert_tokens_to_ids("<|eot_id|>") == tokenizer.convert_tokens_to_ids("<|eot_id|>")
    assert (
        facts.add_bos and facts.bos_token == "<|begin_of_text|>"
    )  # llama.cpp adds it; the template's is stripped


def test_logit_check_fails_when_the_llama_rotary_layout_is_not_converted(tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_file, "_permute_rotary", lambda weight, heads: weight)
    model, tokenizer, facts = write(tmp_path, "llama")
    expected = reference_logits(model, tokenizer, PERSONA)
    report = compare_logits(expected, tokenizer, *load_gguf(facts.path), PERSONA, "f16")
    assert not report.ok and report.relative > gguf_file_tolerance()


def gguf_file_tolerance() -> float:
    from studio.export.gguf_check import TOLERANCE

    return TOLERANCE["f16"]


def test_prompt_check_fails_on_a_template_that_drops_a_newline(tmp_path):
    _, tokenizer, facts = write(tmp_path, "qwen2")
    _, read = load_gguf(facts.path)
    wrong = ollama.TEMPLATES["qwen2"].replace("<|im_end|>\n{{ end }}", "<|im_end|>{{ end }}")
    with pytest.raises(
        StudioError, match="Modelfile TEMPLATE .* renders a two-turn chat differently"
    ):
        compare_prompts(tokenizer, read, wrong, PERSONA, facts.add_bos, facts.bos_token)


def test_q8_0_is_smaller_and_keeps_vectors_in_float32(tmp_path):
    from gguf import GGMLQuantizationType, GGUFReader

    write(tmp_path, "qwen2", "q8_0")
    types = {t.name: t.tensor_type for t in GGUFReader(str(tmp_path / "qwen2.gguf")).tensors}
    assert types["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_q.bias"] == types["output_norm.weight"] == GGMLQuantizationType.F32


def test_vllm_rank_sizes_and_adapter_rules(tmp_path):
    assert [vllm.max_lora_rank(r) for r in (1, 4, 16, 17, 64)] == [1, 8, 16, 32, 64]
    with pytest.raises(StudioError, match="above the largest"):
        vllm.max_lora_rank(1024)
    adapter = tmp_path / "a"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"x")
    base = {"r": 8, "target_modules": ["q_proj", "v_proj"], "peft_type": "LORA"}
    for bad, match in (
        ({"target_modules": ["q_proj", "embed_tokens"]}, "also targets embed_tokens"),
        ({"use_dora": True}, "DoRA"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ):
        (adapter / "adapter_config.json").write_text(json.dumps({**base, **bad}))
        (tmp_path / "t").mkdir(exist_ok=True)
        with pytest.raises(StudioError, match=match):
            vllm.write_folder(
                tmp_path / "t",
                tmp_path / "v",
                adapter_dir=adapter,
                base="B",
                model_type="qwen2",
                template="",
                persona="",
                character="c",
                modelscope=False,
                merged=None,
            )
    command = vllm.serve_command(
        "Qwen/Qwen2.5-7B-Instruct", tmp_path / "v" / "adapter", 24, tmp_path / "t.jinja"
    )
    assert command.startswith(
        "vllm serve Qwen/Qwen2.5-7B-Instruct --enable-lora --lora-modules persona="
    )
    assert "--max-lora-rank 32 --chat-template" in command


def test_qwen3_with_its_own_head_size_and_tied_embeddings_reads_back(tmp_path):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from studio.export.merged import persona_template

    tokenizer = build_tokenizer("qwen2")
    shape = dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=128,
        vocab_size=320,
        tie_word_embeddings=True,
    )
    model = Qwen3ForCausalLM(Qwen3Config(**shape)).eval()
    facts = gguf_file.write_gguf(
        model,
        tokenizer,
        tmp_path / "q3.gguf",
        qtype="q8_0",
        chat_template=persona_template(tokenizer.chat_template, PERSONA),
        end_of_turn_ids=[tokenizer.convert_tokens_to_ids("<|im_end|>")],
        name="t",
    )
    expected = reference_logits(model, tokenizer, PERSONA)
    read_model, read_tokenizer = load_gguf(facts.path)
    assert compare_logits(expected, tokenizer, read_model, read_tokenizer, PERSONA, "q8_0").ok
    assert read_model.config.tie_word_embeddings
    compare_prompts(
        tokenizer,
        read_tokenizer,
        ollama.TEMPLATES["qwen3"],
        PERSONA,
        facts.add_bos,
        facts.bos_token,
    )
