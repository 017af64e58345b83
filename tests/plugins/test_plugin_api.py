"""Every hook is documented in docs/plugins.md and exercised by a test."""

from __future__ import annotations

import re
from pathlib import Path

from studio import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("register_"))


def test_every_hook_has_a_docs_section_with_its_signature():
    text = DOCS.read_text(encoding="utf-8")
    assert HOOKS == ["register_augmenters", "register_corpus_parsers", "register_model_adapters"]
    for hook in HOOKS:
        assert re.search(rf"^### {hook}\(register\)$", text, re.M), hook


def test_hook_register_corpus_parsers(host):
    parser = host.parsers["screenplay"]
    from studio.api import SourceText

    source = SourceText(Path("x.txt"), "宜修：妹妹好。\n莞莞：姐姐好。\n", "utf-8")
    assert parser.sniff(source) > 0.5
    result = parser.parse(source, {})
    assert [u.speaker for u in result.utterances if u.kind == "dialogue"] == ["宜修", "莞莞"]


def test_hook_register_augmenters(host):
    from studio.api import AugmentContext

    augmenter = host.augmenters["persona-qa"]
    context = AugmentContext(
        character="莞莞", persona="你是莞莞。你住在碎玉轩。", samples=[], seed=1
    )
    first = list(augmenter.propose(context, {o.name: o.default for o in augmenter.options}))
    second = list(augmenter.propose(context, {o.name: o.default for o in augmenter.options}))
    assert first and [s.id for s in first] == [s.id for s in second]
    assert all(s.provenance["strategy"] == "persona-qa" and s.status == "pending" for s in first)


def test_hook_register_model_adapters(host, tmp_path):
    from studio.api import ModelSpec

    adapter = host.adapters["tiny-llama"]
    path = adapter.fetch(ModelSpec("tiny-llama", source="tiny", cache_dir=str(tmp_path)))
    tokenizer = adapter.load_tokenizer(path, ModelSpec("tiny-llama", source="tiny"))
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert tokenizer.decode(tokenizer("你好 Juliet")["input_ids"]) == "你好 Juliet"
