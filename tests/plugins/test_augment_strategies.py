"""The built-in strategies: declared options, seeded plans, persona Q&A from the card, retrieval, data."""

from __future__ import annotations

import pytest
from studio_augment.base import data_lines
from studio_augment.persona_qa import first_person

from studio.api import AugmentContext, Option, PlannedAugmenter, Sample, Turn, resolve_options
from studio.api.retrieval import BM25, tokenize
from studio.errors import InputError, StudioError
from studio.plugins import load_host

STRATEGIES = ("fewshot", "everyday", "persona-qa", "continue")


def corpus_sample(n: int, speaker: str, prompt: str, reply: str, character: str = "莞莞") -> Sample:
    return Sample(
        id=f"s{n:03d}",
        character=character,
        system="card",
        turns=[Turn("user", prompt), Turn("assistant", reply)],
        provenance={
            "kind": "corpus",
            "sources": [
                {"file": "f", "line": n, "speaker": speaker},
                {"file": "f", "line": n + 1, "speaker": character},
            ],
        },
    )


ZH_SAMPLES = [
    corpus_sample(1, "宜修", "妹妹今日气色真好。", "姐姐说笑了，昨夜睡得早些罢了。"),
    corpus_sample(3, "槿汐", "小主，御膳房送了桂花糕来。", "放着吧，我晚些再吃。"),
    corpus_sample(5, "宜修", "听说你近来常去御花园？", "园中的海棠开了，去看看花。"),
    corpus_sample(7, "温实初", "微臣给小主请安。", "温大人快请起，近来可好？"),
    corpus_sample(9, "槿汐", "小主，天凉了，添件衣裳吧。", "还是你细心，去取那件月白的来。"),
    corpus_sample(11, "宜修", "你可喜欢读书？", "闲时读几页诗词，倒也清净。"),
]


def context(samples=ZH_SAMPLES, persona="你是莞莞，碎玉轩的小主。", seed=0, **kw) -> AugmentContext:
    roster = kw.pop("roster", {"莞莞": 6, "宜修": 3, "槿汐": 2, "温实初": 1})
    return AugmentContext(
        character=kw.pop("character", "莞莞"),
        persona=persona,
        samples=list(samples),
        roster=roster,
        seed=seed,
        **kw,
    )


@pytest.fixture(scope="module")
def host():
    return load_host()


def test_every_builtin_strategy_declares_its_options_and_plans_items(host):
    assert set(STRATEGIES) <= set(host.augmenters)
    for name in STRATEGIES:
        strategy = host.augmenters[name]
        assert isinstance(strategy, PlannedAugmenter)
        assert strategy.description and isinstance(strategy.needs_llm, bool)
        assert all(isinstance(o, Option) for o in strategy.options)
        defaults = resolve_options(strategy.options, {})
        assert {o.name: o.coerce(o.default) for o in strategy.options} == defaults
    assert not host.augmenters["persona-qa"].needs_llm and host.augmenters["fewshot"].needs_llm


@pytest.mark.parametrize(
    "name, options",
    [
        ("fewshot", {"count": 8, "shots": 3}),
        ("everyday", {"count": 8, "shots": 2}),
        ("continue", {"count": 4, "min_reply_chars": 0}),
        ("persona-qa", {"count": 10}),
    ],
)
def test_plans_are_decided_by_the_seed(host, name, options):
    strategy = host.augmenters[name]
    resolved = resolve_options(strategy.options, options)
    first = strategy.plan(context(seed=3), resolved)
    again = strategy.plan(context(seed=3), resolved)
    assert [(i.key, dict(i.data)) for i in first] == [(i.key, dict(i.data)) for i in again]
    assert len({i.key for i in first}) == len(first) > 0
    if name in ("fewshot", "continue"):
        other = strategy.plan(context(seed=4), resolved)
        assert [dict(i.data) for i in other] != [dict(i.data) for i in first]


def test_fewshot_shows_exchanges_with_the_chosen_interlocutor(host):
    strategy = host.augmenters["fewshot"]
    items = strategy.plan(context(), resolve_options(strategy.options, {"count": 20, "shots": 4}))
    by_id = {s.id: s for s in ZH_SAMPLES}
    for item in items:
        assert item.data["speaker"] in {"宜修", "槿汐", "温实初"}  # never the character herself
        shown = [by_id[i] for i in item.data["examples"]]
        assert len(set(item.data["examples"])) == 4
        with_them = [
            s for s in shown if s.provenance["sources"][0]["speaker"] == item.data["speaker"]
        ]
        assert len(with_them) >= min(
            2,
            sum(
                1
                for s in ZH_SAMPLES
                if s.provenance["sources"][0]["speaker"] == item.data["speaker"]
            ),
        )
    assert {i.data["speaker"] for i in items} >= {"宜修", "槿汐"}


def test_persona_qa_answers_family_titles_and_people_from_an_english_card(host):
    card = (
        "You are Mara Vell, the lighthouse keeper of Gull Point. You are the daughter of Captain Ansel Vell, "
        "and your younger brother Tom fishes the north bank. The villagers call you the Lamp of Gull Point. "
        "Ivo the ferryman is your oldest friend, and you distrust the new magistrate Corbin. "
        "You speak plainly and dryly. Stay in character."
    )
    ctx = context(
        [],
        persona=card,
        character="Mara",
        roster={"Mara": 50, "Tom": 20, "CORBIN": 9, "Ivo": 7, "Ada": 30},
    )
    strategy = host.augmenters["persona-qa"]
    samples = list(
        strategy.propose(ctx, resolve_options(strategy.options, {"count": 100, "phrasings": 1}))
    )
    topics = {s.provenance["topic"]: s.reply for s in samples}
    assert topics["identity"].startswith("I am Mara Vell, the lighthouse keeper of Gull Point.")
    assert "Captain Ansel Vell" in topics["father"] and "I am the daughter" in topics["father"]
    assert "my younger brother Tom" in topics["siblings"]
    assert topics["title"] == "The villagers call me the Lamp of Gull Point."
    assert topics["manner"] == "I speak plainly and dryly."
    about = {s.provenance["person"]: s.reply for s in samples if s.provenance["topic"] == "person"}
    assert set(about) == {
        "Tom",
        "CORBIN",
        "Ivo",
    }  # Ada is in the roster but the card never names her
    assert "I distrust the new magistrate Corbin" in about["CORBIN"]
    asked = [s.prompt for s in samples if s.provenance["person"] == "CORBIN"]
    assert asked and all("Corbin" in q for q in asked)  # the card's spelling, not the script label
    assert "my oldest friend" in about["Ivo"]
    assert all(
        "Stay in character" not in s.reply and " you " not in f" {s.reply} " for s in samples
    )
    assert all(s.provenance["strategy"] == "persona-qa" and s.status == "pending" for s in samples)


def test_persona_qa_in_chinese_turns_the_card_into_first_person(host):
    card = "你是莞莞，甄家的长女，妹妹是玉娆。你入宫后被封为莞贵人。宜修是你的表姐，待你表面亲厚。你说话温婉，爱读诗词。"
    strategy = host.augmenters["persona-qa"]
    samples = list(
        strategy.propose(context(persona=card), resolve_options(strategy.options, {"phrasings": 1}))
    )
    topics = {s.provenance["topic"]: s.reply for s in samples}
    assert topics["identity"] == "我是莞莞，甄家的长女，妹妹是玉娆。"
    assert topics["title"] == "我入宫后被封为莞贵人。"
    assert topics["siblings"] == "妹妹是玉娆。"
    assert topics["manner"] == "我说话温婉，爱读诗词。"
    people = {s.provenance["person"]: s.reply for s in samples if s.provenance["topic"] == "person"}
    assert people == {"宜修": "宜修是我的表姐，待我表面亲厚。"}
    assert all("你" not in s.reply for s in samples)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("You are brave and your Nurse loves you.", "I am brave and my Nurse loves me."),
        ("Your father fears that you will leave.", "My father fears that I will leave."),
        ("你们都说你聪慧。", "我们都说我聪慧。"),
    ],
)
def test_first_person(text, expected):
    lang = "zh" if "你" in text else "en"
    assert first_person(text, lang) == expected


def test_bm25_ranks_the_line_sharing_the_rare_words_first():
    docs = [
        "今日御花园的海棠开得正好",
        "小主请用桂花糕",
        "皇上今日不来了",
        "桂花糕甜而不腻，小主喜欢吃甜的",
    ]
    index = BM25(docs)
    assert index.top("你喜欢吃甜的还是咸的？", 2)[0][0] == 3
    assert index.top("海棠花开了吗", 1)[0][0] == 0
    english = BM25(
        [
            "The garden is quiet at night",
            "Do you like the garden?",
            "I love sweet cakes, sweet and warm",
        ]
    )
    assert english.top("What sweet cakes do you like to eat?", 1)[0][0] == 2
    assert "the" not in tokenize("the garden") and "花开" in tokenize("花开了")


def test_everyday_retrieves_similar_real_lines_as_examples(host):
    strategy = host.augmenters["everyday"]
    items = strategy.plan(context(), resolve_options(strategy.options, {"count": 0, "shots": 1}))
    assert len(items) >= 100 and all(i.data["source"].startswith("builtin:zh:") for i in items)
    cake = next(i for i in items if i.data["question"] == "你喜欢甜的还是咸的？")
    hobby = next(i for i in items if i.data["question"] == "你喜欢读什么样的书？")
    assert hobby.data["examples"] == ["s011"]
    assert cake.data["examples"] and cake.data["scores"]


def test_everyday_reads_a_user_file_inside_the_workspace(host, tmp_path):
    strategy = host.augmenters["everyday"]
    (tmp_path / "qs.txt").write_text(
        "# my questions\n\n你喜欢读书吗？\n你喜欢读书吗？\n明天去哪里？\n", encoding="utf-8"
    )
    ctx = context(workspace=tmp_path)
    items = strategy.plan(
        ctx, resolve_options(strategy.options, {"prompts_file": "qs.txt", "count": 0})
    )
    assert [(i.data["source"], i.data["question"]) for i in items] == [
        ("qs.txt:3", "你喜欢读书吗？"),
        ("qs.txt:5", "明天去哪里？"),
    ]
    (tmp_path / "long.txt").write_text("好问题？\n" + "长" * 400 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        strategy.plan(ctx, resolve_options(strategy.options, {"prompts_file": "long.txt"}))
    assert info.value.line == 2 and "one question per line" in str(info.value)
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match="no questions"):
        strategy.plan(ctx, resolve_options(strategy.options, {"prompts_file": "empty.txt"}))
    with pytest.raises(StudioError, match="outside the workspace"):
        strategy.plan(ctx, resolve_options(strategy.options, {"prompts_file": "../elsewhere.txt"}))


def test_builtin_lists_are_substantial_and_have_no_repeats():
    for name in ("everyday_zh.txt", "everyday_en.txt", "situations_zh.txt", "situations_en.txt"):
        lines = [text for _, text in data_lines(name)]
        assert len(lines) >= (100 if name.startswith("everyday") else 30), name
        assert len(set(lines)) == len(lines), name


def test_strategies_without_real_lines_say_what_they_need(host):
    for name in ("fewshot", "everyday", "continue"):
        strategy = host.augmenters[name]
        with pytest.raises(StudioError, match="expected"):
            strategy.plan(context([]), resolve_options(strategy.options, {}))
