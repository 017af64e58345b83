"""The dataset builder: pairing, merging, multi-turn windows, filters, stable ids."""

from __future__ import annotations

from studio.api import Utterance
from studio.config import DatasetConfig
from studio.dataset.builder import NAME_ONLY, NO_PROMPT, PROBLEMS, build_samples
from studio.dataset.filters import Deduplicator


def script(rows, file="play.txt", start=1):
    """Utterances from ``(speaker, text)`` rows; ``speaker`` None is a stage direction, ``#x`` a scene."""
    out, scene = [], "1"
    for number, (speaker, text) in enumerate(rows, start=start):
        if speaker and speaker.startswith("#"):
            scene = speaker[1:]
            out.append(Utterance(None, text, "scene", scene, file, number))
        elif speaker is None:
            out.append(Utterance(None, text, "action", scene, file, number))
        else:
            out.append(Utterance(speaker, text, "dialogue", scene, file, number))
    return out


def build(rows, character="莞莞", **options):
    config = DatasetConfig(
        eval_fraction=options.pop("eval_fraction", 0.0), identity_samples=False, **options
    )
    return build_samples(script(rows), character, "你是莞莞。", config)


def pairs(samples):
    return [(s.turns[-2].content, s.turns[-1].content) for s in samples]


def test_user_turn_is_the_nearest_line_by_another_speaker_and_her_lines_merge():
    samples, report = build(
        [
            ("#1", "第1幕"),
            ("宜修", "妹妹今日气色真好。"),
            ("莞莞", "姐姐说笑了。"),
            (None, "（起身行礼）"),
            ("莞莞", "昨夜睡得早些罢了。"),
            ("宜修", "皇上可曾来过？"),
            ("槿汐", "小主，该用膳了。"),
            ("莞莞", "知道了，这就来。"),
        ]
    )
    assert pairs(samples) == [
        (
            "妹妹今日气色真好。",
            "姐姐说笑了。昨夜睡得早些罢了。",
        ),  # merged across the stage direction
        ("小主，该用膳了。", "知道了，这就来。"),  # the nearest speaker only, never her own line
    ]
    assert report.merged_lines == 1 and report.character_lines == 3 and report.replies == 2
    assert all(s.system == "你是莞莞。" and s.turns[0].role == "user" for s in samples)


def test_consecutive_lines_of_the_interlocutor_form_one_user_turn():
    samples, _ = build([("皇帝", "朕乏了。"), ("皇帝", "你陪朕走走。"), ("莞莞", "臣妾遵旨。")])
    assert pairs(samples) == [("朕乏了。你陪朕走走。", "臣妾遵旨。")]


def test_speaker_name_in_the_user_turn_is_an_option():
    rows = [("皇上", "你来了。"), ("莞莞", "臣妾来迟了。")]
    samples, _ = build_samples(
        script(rows),
        "莞莞",
        "",
        DatasetConfig(speaker_in_prompt=True, identity_samples=False, eval_fraction=0),
        {"皇帝": ["皇上"]},
    )
    assert samples[0].prompt == "皇帝：你来了。"  # the canonical name, with the full-width colon
    rows = [("ROMEO", "Lady, by yonder moon I swear."), ("JULIET", "O, swear not by the moon.")]
    english = build_samples(
        script(rows),
        "JULIET",
        "",
        DatasetConfig(speaker_in_prompt=True, identity_samples=False, eval_fraction=0),
    )
    assert english[0][0].prompt == "ROMEO: Lady, by yonder moon I swear."


def test_a_reply_that_opens_the_scene_or_follows_an_unusable_line_is_dropped_with_its_reason():
    rows = [
        ("#1", "一"),
        ("莞莞", "今日天气真好。"),
        ("#2", "二"),
        ("众人", "恭喜小主！"),
        ("莞莞", "都起来吧。"),
        ("莞莞眉庄", "参见皇后娘娘。"),
        ("莞莞", "娘娘万安。"),
        ("宜修", "起来吧。"),
        ("莞莞", "谢娘娘。"),
    ]
    config = DatasetConfig(eval_fraction=0, identity_samples=False)
    samples, report = build_samples(script(rows), "莞莞", "", config, ignore=["众人"])
    assert pairs(samples) == [("起来吧。", "谢娘娘。")]
    assert report.dropped == {NO_PROMPT: 1, PROBLEMS["ignored"]: 1, PROBLEMS["group"]: 1}


def test_a_line_the_parser_could_not_read_breaks_the_pairing():
    rows = [
        ("温实初", "小主安好。"),
        ("莞莞", "温大人请起。"),
        ("槿汐", "小主，药熬好了。"),
        ("莞莞", "放下吧。"),
    ]
    utts = script(rows)
    utts[2].line, utts[3].line = 10, 11  # line 9 was unreadable (e.g. "温实初；…" with a semicolon)
    samples, report = build_samples(
        utts,
        "莞莞",
        "",
        DatasetConfig(eval_fraction=0, identity_samples=False),
        unparsed=[("play.txt", 9)],
    )
    assert pairs(samples) == [("小主安好。", "温大人请起。"), ("小主，药熬好了。", "放下吧。")]
    utts[3].line = 12
    samples, report = build_samples(
        utts,
        "莞莞",
        "",
        DatasetConfig(eval_fraction=0, identity_samples=False),
        unparsed=[("play.txt", 11)],
    )
    assert pairs(samples) == [("小主安好。", "温大人请起。")]
    assert report.dropped == {PROBLEMS["unparsed"]: 1}


def test_multi_turn_windows_hold_history_within_one_scene():
    rows = [
        ("#1", "一"),
        ("皇帝", "甲一"),
        ("莞莞", "乙一"),
        ("皇帝", "甲二"),
        ("莞莞", "是。"),
        ("皇帝", "甲三"),
        ("莞莞", "乙三"),
        ("皇帝", "甲四"),
        ("莞莞", "乙四"),
        ("#2", "二"),
        ("皇后", "丙一"),
        ("莞莞", "丁一"),
    ]
    samples, report = build(rows, mode="multi", history_turns=2, min_chars=2)
    convs = [[t.content for t in s.turns] for s in samples]
    assert convs == [
        ["甲一", "乙一"],
        ["甲一", "乙一", "甲二", "是。"],
        ["甲一", "乙一", "甲二", "是。", "甲三", "乙三"],
        ["甲二", "是。", "甲三", "乙三", "甲四", "乙四"],  # two exchanges of history, no more
        ["丙一", "丁一"],  # a new scene starts a new conversation
    ]
    for sample in samples:
        assert [t.role for t in sample.turns] == ["user", "assistant"] * (len(sample.turns) // 2)
    assert [s.provenance["history"] for s in samples] == [0, 1, 2, 2, 0]
    # a reply dropped as a target (only a name) still counts as history
    rows[4] = ("莞莞", "皇上！")
    samples, report = build(rows, mode="multi", history_turns=2)
    assert [s.reply for s in samples] == ["乙一", "乙三", "乙四", "丁一"] and report.dropped == {
        NAME_ONLY: 1
    }
    assert [t.content for t in samples[1].turns] == [
        "甲一",
        "乙一",
        "甲二",
        "皇上！",
        "甲三",
        "乙三",
    ]


def test_multi_turn_user_turn_names_several_speakers():
    rows = [("皇帝", "你怎么看？"), ("皇后", "臣妾以为不妥。"), ("莞莞", "臣妾也以为不妥。")]
    samples, _ = build(rows, mode="multi")
    assert samples[0].prompt == "皇帝：你怎么看？\n皇后：臣妾以为不妥。"


def test_length_and_name_or_interjection_filters():
    rows = [
        ("皇帝", "嬛嬛。"),
        ("莞莞", "皇上！"),
        ("皇帝", "来。"),
        ("莞莞", "啊？"),
        ("皇帝", "过来坐。"),
        ("莞莞", "是。"),
        ("苏培盛", "小主请。"),
        ("莞莞", "苏公公。"),
        ("皇帝", "说吧。"),
        ("莞莞", "嗯" * 30),
        ("皇帝", "还有呢？"),
        ("莞莞", "臣妾" * 601),
    ]
    samples, report = build(rows)
    assert [s.reply for s in samples] == ["是。"]  # a short real reply stays
    assert report.dropped[NAME_ONLY] == 4
    greeting, _ = build(
        [("吉祥", "小主回来了。"), ("莞莞", "嗯。"), ("皇帝", "来了？"), ("莞莞", "皇上吉祥。")]
    )
    assert [s.reply for s in greeting] == ["皇上吉祥。"]  # 吉祥 is a maid's name and a greeting
    assert report.dropped["reply longer than 1200 chars"] == 1
    english, report = build_samples(
        script(
            [
                ("ROMEO", "I take thee at thy word."),
                ("#2", "2"),
                ("NURSE", "Madam!"),
                ("JULIET", "O Romeo!"),
                ("NURSE", "Your mother calls."),
                ("JULIET", "Ay me!"),
                ("NURSE", "Come."),
                ("JULIET", "Good nurse, I come."),
            ]
        ),
        "JULIET",
        "",
        DatasetConfig(eval_fraction=0, identity_samples=False),
    )
    assert [s.reply for s in english] == ["Good nurse, I come."] and report.dropped[NAME_ONLY] == 2


def test_duplicates_are_judged_per_context_not_globally():
    rows = [
        ("#1", "一"),
        ("皇帝", "退下吧。"),
        ("莞莞", "是。"),
        ("皇后", "你去御膳房看看。"),
        ("莞莞", "是。"),
        ("#2", "二"),
        ("皇帝", "退下吧！"),
        ("莞莞", "是。"),  # same words, other punctuation
        ("#3", "三"),
        ("皇帝", "退下吧。"),
        ("莞莞", "是。"),  # exact repeat
        ("#4", "四"),
        ("皇帝", "你可知道华妃今日去了哪里？"),
        ("莞莞", "臣妾听说华妃娘娘今日去了御花园赏花。"),
        ("#5", "五"),
        ("皇帝", "你可知道华妃今日去了哪里"),
        ("莞莞", "臣妾听说华妃娘娘今日去了御花园赏花"),
    ]
    samples, report = build(rows)
    assert pairs(samples) == [
        ("退下吧。", "是。"),
        ("你去御膳房看看。", "是。"),
        ("你可知道华妃今日去了哪里？", "臣妾听说华妃娘娘今日去了御花园赏花。"),
    ]
    assert report.dropped == {Deduplicator.NEAR: 2, Deduplicator.EXACT: 1}
    loose, report = build(rows, near_duplicates=False)
    assert len(loose) == 5 and report.dropped == {Deduplicator.EXACT: 1}


def test_fuzzy_near_duplicates_need_one_side_identical_and_the_other_similar():
    dedup = Deduplicator()
    assert dedup.check("你可知道华妃今日去了哪里？", "臣妾听说华妃娘娘今日去了御花园赏花。") is None
    assert (
        dedup.check("你可知道华妃今日去了哪里呢？", "臣妾听说华妃娘娘今日去了御花园赏花。")
        == Deduplicator.FUZZY
    )
    assert dedup.check("你可知道皇后今日在做什么？", "臣妾听说华妃娘娘今日去了御花园赏花。") is None


def test_ids_depend_on_the_source_lines_only():
    rows = [
        ("皇帝", "朕乏了。"),
        ("莞莞", "臣妾给皇上捶捶背。"),
        ("皇帝", "好。"),
        ("莞莞", "皇上闭眼歇会儿吧。"),
    ]
    first, _ = build(rows)
    shifted = build_samples(
        script([("#1", "第一幕"), (None, "（养心殿）"), *rows], start=40),
        "莞莞",
        "你是另一张卡。",
        DatasetConfig(eval_fraction=0, identity_samples=False, speaker_in_prompt=True),
    )[0]
    assert [s.id for s in first] == [
        s.id for s in shifted
    ]  # moved lines, other persona and prompt style
    edited, _ = build([*rows[:3], ("莞莞", "皇上闭眼歇一会儿吧。")])
    assert edited[0].id == first[0].id and edited[1].id != first[1].id
    multi, _ = build(rows, mode="multi")
    assert not {s.id for s in multi} & {s.id for s in first}
    assert len({s.id for s in first}) == len(first)


def test_provenance_names_every_source_line():
    samples, _ = build(
        [
            ("皇帝", "朕乏了。"),
            ("皇帝", "陪朕坐坐。"),
            ("莞莞", "是。"),
            (None, "（坐下）"),
            ("莞莞", "皇上请用茶。"),
        ]
    )
    sources = samples[0].provenance["sources"]
    assert samples[0].provenance["kind"] == "corpus"
    assert [(s["line"], s["speaker"]) for s in sources] == [
        (1, "皇帝"),
        (2, "皇帝"),
        (3, "莞莞"),
        (5, "莞莞"),
    ]


def test_identity_samples_are_added_when_the_card_has_facts():
    samples, report = build_samples(
        script([("皇帝", "朕乏了。"), ("莞莞", "臣妾告退。")]),
        "莞莞",
        "你是莞莞，甄远道的长女。你说话温婉。",
        DatasetConfig(eval_fraction=0),
    )
    identity = [s for s in samples if s.provenance["kind"] == "identity"]
    assert report.identity == len(identity) >= 3 and all(s.split == "train" for s in identity)
