"""Encoding: the loss mask covers each reply plus exactly one end-of-turn token,
whatever the template."""

from __future__ import annotations

import pytest

from studio.api import Sample, Turn
from studio.train.data import IGNORE, encode_messages, encode_samples

PERSONA = "You are Juliet of Verona."


@pytest.fixture(scope="module")
def tokenizers():
    from studio_models.tiny import build_tokenizer

    return {"qwen2": build_tokenizer("qwen2"), "llama": build_tokenizer("llama")}


def supervised_text(tokenizer, item) -> str:
    return tokenizer.decode(
        [t for t, label in zip(item.input_ids, item.labels, strict=True) if label != IGNORE]
    )


def sample(*turns: str, system: str = PERSONA, sid: str = "s1") -> Sample:
    roles = ["user", "assistant"] * len(turns)
    return Sample(
        id=sid,
        character="JULIET",
        system=system,
        turns=[Turn(r, t) for r, t in zip(roles, turns, strict=False)],
    )


def messages(*turns: str) -> list[dict[str, str]]:
    return sample(*turns).messages()


@pytest.mark.parametrize("arch,eot", [("qwen2", "<|im_end|>"), ("llama", "<|eot_id|>")])
def test_reply_and_one_end_of_turn_are_supervised(tokenizers, arch, eot):
    tok = tokenizers[arch]
    eot_id = tok.convert_tokens_to_ids(eot)
    item, appended = encode_messages(tok, messages("Who art thou?", "A Capulet, sir."), [eot_id])
    assert appended == 0
    assert supervised_text(tok, item) == "A Capulet, sir." + eot
    assert item.labels.count(eot_id) == 1
    # the prompt (persona included) carries no loss; the rendered text is the chat template's
    assert PERSONA in tok.decode(item.input_ids)
    assert tok.decode(item.input_ids) == tok.apply_chat_template(
        messages("Who art thou?", "A Capulet, sir."), tokenize=False
    )


def test_every_assistant_turn_of_a_conversation_is_supervised_once(tokenizers):
    tok = tokenizers["qwen2"]
    eot_id = tok.convert_tokens_to_ids("<|im_end|>")
    item, _ = encode_messages(
        tok, messages("Hi.", "Good morrow.", "Where is Romeo?", "In the orchard."), [eot_id]
    )
    assert supervised_text(tok, item) == "Good morrow.<|im_end|>In the orchard.<|im_end|>"
    # the newline the template writes after <|im_end|> is not learnt
    ends = [i for i, t in enumerate(item.input_ids) if t == eot_id and item.labels[i] != IGNORE]
    assert all(item.labels[i + 1] == IGNORE for i in ends if i + 1 < len(item))


class _Template:
    """A tokenizer with a different chat template (same vocabulary)."""

    def __init__(self, base, template: str) -> None:
        self.base = base
        self.template = template

    def apply_chat_template(self, msgs, tokenize=False, add_generation_prompt=False):
        return self.base.apply_chat_template(
            msgs,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            chat_template=self.template,
        )

    def __call__(self, *args, **kwargs):
        return self.base(*args, **kwargs)


# GLM-4 style: an assistant turn has no end token; the next message's role token ends it
GLM_LIKE = (
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Mistral style: the system prompt is folded into the last user message (earlier renders differ)
MISTRAL_LIKE = (
    "{%- set sys = messages[0]['content'] %}{%- set rest = messages[1:] %}"
    "{%- for m in rest %}{%- if m['role'] == 'user' %}"
    "{%- if loop.last or (loop.index0 == rest|length - 2) %}"
    "{{- '[U]' + sys + ' ' + m['content'] + '[/U]' }}"
    "{%- else %}{{- '[U]' + m['content'] + '[/U]' }}{%- endif %}"
    "{%- else %}{{- m['content'] + '<|im_end|>' }}{%- endif %}{%- endfor %}"
)


def test_template_without_end_of_turn_supervises_the_next_role_token_or_appends_eos(tokenizers):
    tok = tokenizers["qwen2"]
    start = tok.convert_tokens_to_ids("<|im_start|>")
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    glm = _Template(tok, GLM_LIKE)
    item, appended = encode_messages(
        glm, messages("Hi.", "Good morrow.", "Where?", "Here."), [start, eos], eos_id=eos
    )
    assert supervised_text(tok, item) == "Good morrow.<|im_start|>Here.<|endoftext|>"
    assert appended == 1 and item.input_ids[-1] == eos


def test_template_that_rewrites_earlier_turns_falls_back_to_finding_the_replies(tokenizers):
    tok = tokenizers["qwen2"]
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    item, _ = encode_messages(
        _Template(tok, MISTRAL_LIKE), messages("Hi.", "Good morrow.", "Where?", "Here."), [eot]
    )
    assert supervised_text(tok, item) == "Good morrow.<|im_end|>Here.<|im_end|>"


def test_the_run_persona_replaces_a_stale_system_prompt_and_is_counted(tokenizers):
    tok = tokenizers["qwen2"]
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    stale = sample("Hi.", "Good morrow.", system="an old persona")
    items, report = encode_samples(tok, [stale], [eot], 512, system=PERSONA)
    assert PERSONA in tok.decode(items[0].input_ids) and "an old persona" not in tok.decode(
        items[0].input_ids
    )
    assert report.system_replaced == 1


def test_overlong_samples_are_dropped_or_split_and_always_counted(tokenizers):
    tok = tokenizers["qwen2"]
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    short = sample("Hi.", "Good morrow.", sid="short")
    long_reply = sample("Speak.", "O Romeo " * 40, sid="long")
    conversation = sample("A?", "Uno. " * 12, "B?", "Dos. " * 12, "C?", "Tre. " * 12, sid="chat")
    limit = len(encode_samples(tok, [sample("A?", "Uno. " * 12)], [eot], 10_000)[0][0]) + 5
    dropped, report = encode_samples(
        tok, [short, long_reply, conversation], [eot], limit, overlong="drop"
    )
    assert [i.sample_id for i in dropped] == ["short"]
    assert sorted(report.too_long) == ["chat", "long"]
    split, report = encode_samples(
        tok, [short, long_reply, conversation], [eot], limit, overlong="split"
    )
    assert report.too_long == ["long"] and report.split == ["chat"]
    pieces = [i for i in split if i.sample_id.startswith("chat#")]
    assert len(pieces) == 3 and all(len(i) <= limit for i in split)
    learnt = "".join(supervised_text(tok, i) for i in pieces)
    assert learnt == "".join(word * 12 + "<|im_end|>" for word in ("Uno. ", "Dos. ", "Tre. "))


def test_multi_turn_window_learns_only_its_last_reply(tokenizers):
    tok = tokenizers["qwen2"]
    window = sample("Who is there?", "It is I.", "Art thou well?", "Well enough, good Nurse.")
    window.provenance = {"kind": "corpus", "history": 1}
    items, _ = encode_samples(tok, [window], [tok.convert_tokens_to_ids("<|im_end|>")], 4096)
    assert supervised_text(tok, items[0]) == "Well enough, good Nurse.<|im_end|>"
    window.provenance = {"kind": "corpus"}  # no history recorded: every reply is learnt
    items, _ = encode_samples(tok, [window], [tok.convert_tokens_to_ids("<|im_end|>")], 4096)
    assert supervised_text(tok, items[0]) == "It is I.<|im_end|>Well enough, good Nurse.<|im_end|>"


def test_identity_samples_are_repeated_up_to_their_share_each_phrasing_alike():
    from studio.train.data import with_identity_share

    corpus = [sample("Hi.", f"Line {i}.", sid=f"c{i}") for i in range(97)]
    identity = []
    for i, question in enumerate(("Who are you?", "Your name?", "Who is this?")):
        one = sample(question, "I am Juliet.", sid=f"id{i}")
        one.provenance = {"kind": "identity"}
        identity.append(one)
    out, added = with_identity_share(corpus + identity, 0.1)
    ids = [s for s in out if s.provenance.get("kind") == "identity"]
    assert len(ids) / len(out) >= 0.1 and len(ids) == 11  # ceil(0.1 * 97 / 0.9)
    assert added == len(out) - 100 == 8
    counts = sorted(sum(s is one for s in ids) for one in identity)
    assert counts[-1] - counts[0] <= 1  # round robin: no phrasing favoured
    assert with_identity_share(corpus + identity, 0)[1] == 0
    assert with_identity_share(corpus, 0.1) == (corpus, 0)  # nothing to repeat
    # already enough of them: as built
    assert with_identity_share(corpus[:10] + identity, 0.1) == (corpus[:10] + identity, 0)
