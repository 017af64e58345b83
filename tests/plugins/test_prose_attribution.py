"""The prose parser's cast and attribution rules on short invented passages (one rule each)."""

from __future__ import annotations

from pathlib import Path

from studio_prose import cast_zh, rules_zh
from studio_prose.parser import ProseDocument
from studio_prose.speakers import NAMING_BAR

from studio.api import SourceText


def _doc(text: str, **options) -> ProseDocument:
    document = ProseDocument(SourceText(Path("novel.txt"), text, "utf-8"), options)
    document.run()
    return document


def _said(text: str, **options) -> list[tuple[str | None, str]]:
    return [(a.utterance.speaker, a.utterance.text[:4]) for a in _doc(text, **options).attributions]


def test_traditional_characters_and_corner_quotes_are_read_like_simplified():
    text = "第一回\n" + "林秋水說：「明日再來。」\n周小舟說：「好的，我等你。」\n" * 2
    assert _said(text)[:2] == [("林秋水", "明日再來"), ("周小舟", "好的，我")]


def test_ascii_quotes_and_every_colon_form():
    text = (
        "第一章\n" + '林秋水道:"你来了。"\n周小舟笑道∶“来了，带了茶。”\n林秋水问﹕“什么茶？”\n'
        "周小舟道“新茶。”\n"
    ) * 2
    assert _said(text)[:4] == [
        ("林秋水", "你来了。"),
        ("周小舟", "来了，带"),
        ("林秋水", "什么茶？"),
        ("周小舟", "新茶。"),
    ]


def test_comma_introduced_speech_and_a_quote_split_by_a_tag():
    text = "第一章\n" + "林秋水说，“天黑了。”\n“路远，”周小舟说，“明天再走。”\n" * 2
    assert _said(text)[:3] == [("林秋水", "天黑了。"), ("周小舟", "路远，"), ("周小舟", "明天再走")]


def test_a_tag_after_the_quote_whose_verb_comes_in_a_later_clause():
    text = (
        "第一章\n" + "周小舟道：“走。”\n林秋水道：“好。”\n“我不去！”周小舟指着门外，大声说。\n" * 2
    )
    assert _said(text)[2] == ("周小舟", "我不去！")


def test_speaker_not_addressee():
    text = "第一章\n" + "林秋水对周小舟说：“坐。”\n周小舟问林秋水道：“坐哪里？”\n" * 2
    assert _said(text)[:2] == [("林秋水", "坐。"), ("周小舟", "坐哪里？")]


def test_group_words_and_storyteller_asides_name_nobody():
    text = "第一章\n" + "林秋水道：“走吧。”\n众人都笑道：“好！”\n看官听说：“此事另有缘故。”\n" * 2
    said = _said(text)
    assert said[1] == (None, "好！") and said[2] == (None, "此事另有")
    assert cast_zh.group("众人") and cast_zh.group("婆子们") and cast_zh.group("看官")


def test_a_bare_title_is_the_one_cast_member_who_bears_it():
    names = {"赵秀才", "秀才", "三公子", "四公子", "公子"}
    roles = cast_zh.roles(
        names, "赵秀才来了。秀才说话。三公子、四公子都在。", rules_zh.gender_of_title
    )
    assert roles["秀才"] == "赵秀才"  # only one 秀才 in the cast
    assert roles["公子"] is None  # 三公子 or 四公子: nobody in particular


def test_unsure_rules_leave_the_speaker_unknown_and_keep_the_guess():
    text = (
        "第一章\n林秋水道：“早。”\n周小舟道：“早。”\n"
        "林秋水看了看窗外的天色，又回头望着院子里那棵老槐树，半天没有作声。“要下雨了。”\n"
    ) * 2
    last = _doc(text).attributions[2]
    assert last.utterance.speaker is None and last.guess == "林秋水"
    assert last.confidence < NAMING_BAR
    assert all(a.confidence >= NAMING_BAR for a in _doc(text).attributions if a.utterance.speaker)


def test_jieba_person_tags_are_read_from_the_shipped_dictionary():
    assert cast_zh.person_tag("林黛玉") in {"nr", "nrfg"}
    assert cast_zh.person_tag("点头") is None
    assert cast_zh.simplified("說話") == "说话" and len(cast_zh.simplified("們們")) == 2


def test_turn_taking_needs_an_established_exchange_of_two():
    text = (
        "CHAPTER I.\n\n“Tea?” said Anne.\n\n“Please,” said Tom.\n\n“Milk?” said Anne.\n\n"
        "“No milk.”\n\n“Sugar?”\n\n"
    ) * 2
    said = [s for s, _ in _said(text)]
    assert said[3:5] == ["Tom", "Anne"]
    three = (
        "CHAPTER I.\n\n“Tea?” said Anne.\n\n“Please,” said Tom.\n\n“Me too,” said Kate.\n\n"
        "“Milk?” said Anne.\n\n“And for me?”\n\n"
    ) * 2
    assert _said(three)[4][0] is None  # three people talk: the next one could be any of them


def test_a_preface_before_the_chapters_is_narration_not_speech():
    preface = (
        "PREFACE.\n\n" + "“It is a truth,” the critic wrote, “that prefaces run long.”\n\n" * 2
    )
    chapters = "".join(
        f"CHAPTER {n}.\n\n“Good day,” said Anne.\n\n“And to you,” said Tom.\n\n"
        + "The rain went on falling over the fields and the lanes.\n\n" * 30
        for n in "IV"
    )
    document = _doc(preface + chapters + "CHAPTER VI.\n\n“Done,” said Anne.\n\n")
    front = [u for u in document.utterances if u.scene == "front"]
    assert front and all(u.kind == "narration" for u in front)
    assert all(a.utterance.scene != "front" for a in document.attributions)
    assert document.attributions[0].utterance.speaker == "Anne"


def test_a_speech_over_paragraphs_keeps_its_speaker():
    zh = (
        "第一章\n" + "周小舟道：“走。”\n林秋水道：“第一件，你先回家。\n“第二件，明天早些来。”\n" * 2
    )
    assert _said(zh)[1:3] == [("林秋水", "第一件，"), ("林秋水", "第二件，")]
    en = (
        "CHAPTER I.\n\n“Tea?” said Anne.\n\n“First, you go home,” said Tom.\n\n"
        "“Then you come back early.”\n\n"
        "He left.\n\n"
    ) * 2
    said = _said(en.replace("home,” said Tom.", "home,” said Tom, “and sleep.\n\n“Then"))
    assert [s for s, _ in said[1:4]] == ["Tom", "Tom", "Tom"]


def test_utterances_say_how_their_speaker_was_found():
    text = "第一章\n" + "林秋水道：“早。”\n众人都笑道：“好！”\n" * 2
    said = [u for u in _doc(text).utterances if u.kind == "dialogue"]
    assert (said[0].method, said[0].confidence) == ("before", 0.9)
    assert said[1].speaker is None and said[1].method is None and said[1].confidence is None


def test_first_person_asking_someone_with_a_comma_is_the_narrators_speech():
    text = (
        "第一章\n" + ("林秋水走进来，对了我点头。我便问他，“吃过饭么？”他笑着说，“吃过了。”\n") * 2
    )
    said = _said(text)
    assert said[0] == ("我", "吃过饭么")
    assert said[1][1] == "吃过了。" and said[1][0] != "我"


def test_the_narrators_friend_speaks_not_the_narrator():
    text = (
        "第一章\n"
        + (
            "忽听得我的朋友的声音道，“究竟怎的？”\n"
            "我的一位前辈先生，正走到我的寓里来，便很不高兴的对我说：“你记得么？”\n"
        )
        * 2
    )
    said = _said(text)
    assert len(said) == 4 and all(speaker != "我" for speaker, _ in said)


def test_untagged_turns_alternate_from_the_last_tags_of_two_people():
    scene = (
        "“The boat is late,” said Mary.\n\n“It often is.”\n\n"
        "“Then we wait,” said Tom.\n\n“We do not!” cried Anne.\n\n"
        "“Patience, then.”\n\n“I have none.”\n\n“Since when?”\n\n"
    )
    interrupted = (
        "“The boat is late,” said Mary.\n\n“It often is.”\n\n"
        "“Then we wait,” said Tom.\n\n“We do not!” cried Anne.\n\n"
        "Just then Mary waved from the pier.\n\n“Patience, then.”\n\n"
    )
    said = _said("CHAPTER I.\n\n" + scene + "CHAPTER II.\n\n" + interrupted)
    assert said[4:7] == [("Tom", "Pati"), ("Anne", "I ha"), ("Tom", "Sinc")]  # Mary is not counted
    assert said[-1] == (None, "Pati")  # narration naming someone else stops the count


def test_relation_tags_name_a_person_only_with_evidence():
    spouses = (
        "“Have you heard the news, Mr. Lowe?” said Mrs. Lowe.\n\n“No,” said Mr. Lowe.\n\n"
        "The fire crackled.\n\n“My dear Mr. Lowe,” said his lady, “the Hall is let at last.”\n\n"
    )
    said = _said("CHAPTER I.\n\n" + spouses * 2)
    assert said[2] == ("Mrs. Lowe", "My d")  # his lady: Mr. Lowe's wife, under his surname
    mother = (
        "Kitty shook her head; she was cross.\n\n"
        "“May I go out?” asked Kitty.\n\n“Not today,” said Mrs. Hale.\n\n“Why not?” said Kitty.\n\n"
        "“Because it rains,” said her mother.\n\n"
    )
    assert _said("CHAPTER I.\n\n" + mother * 2)[3] == ("Mrs. Hale", "Beca")  # Kitty's mother
    stranger = "“Good evening,” said Kitty.\n\n“Who are you?” said the old gentleman.\n\n"
    assert _said("CHAPTER I.\n\n" + stranger * 2)[1] == (None, "Who ")  # no man in the scene


def test_the_one_named_in_a_question_may_answer_so_turns_do_not_pair():
    text = (
        "“Tea for everyone?” asked Anne.\n\n“Everyone but Kitty,” said Tom.\n\n“I want some.”\n\n"
    )
    assert _said("CHAPTER I.\n\n" + text * 2, names="Kitty")[2] == (None, "I wa")


def test_first_person_tags_are_the_narrator_or_the_first_person_pronoun():
    en = (
        "CHAPTER I.\n\n“Where to?” said Tom.\n\n“Home,” said I.\n\n"
        "I said, “Because it is late.”\n\n"
    )
    assert [s for s, _ in _said(en * 2, narrator="Watson")][:3] == ["Tom", "Watson", "Watson"]
    assert [s for s, _ in _said(en * 2)][:3] == ["Tom", "I", "I"]
    zh = "第一章\n" + "我便问他，“你去哪里？”林秋水笑道：“回家。”我说：“我也回家。”\n" * 2
    said = _doc(zh).attributions  # a collection of stories: no one narrator name, 我 kept
    assert [(a.utterance.speaker, a.confidence >= NAMING_BAR) for a in said[:3]] == [
        ("我", True),
        ("林秋水", True),
        ("我", True),
    ]


def test_a_beat_after_the_quote_led_by_a_name_is_the_speakers():
    text = (
        "“Come here,” said Tom.\n\n“I knew it!”  And Mary ran to the window.\n\n"
        "“Look,” said Tom.  “Why, Tom?” and Mary turned.\n\n"
    )
    said = _said("CHAPTER I.\n\n" + text * 2, names="Mary")
    assert said[1] == ("Mary", "I kn")
    assert said[3] == ("Tom", "Why,")  # a later quote of the paragraph keeps the tag's speaker


def test_a_title_does_not_end_a_sentence_before_the_speech():
    text = (
        "“Sit down,” said Anne.\n\n"
        "Mr. Lowe gave her a sharp look, and put on his spectacles, saying slowly, “Not yet.”\n\n"
    )
    assert _said("CHAPTER I.\n\n" + text * 2, names="Mr. Lowe")[1] == ("Mr. Lowe", "Not ")


def test_a_bare_answer_after_a_question_to_someone_by_name_is_theirs():
    text = (
        "“When is the ball, Lizzy?” said Tom.\n\n“Friday week.”\n\n"
        "“Lizzy, you are late,” said Tom.\n\n“Lizzy, come here.”\n\n"
    )
    said = _said("CHAPTER I.\n\n" + text * 2, names="Lizzy")
    assert said[1] == ("Lizzy", "Frid")
    assert said[3][0] != "Lizzy"  # calling Lizzy in return is said to her, not by her


def test_one_speech_over_two_paragraphs_is_one_turn():
    text = (
        "“Were you in the army?” said Anne.\n\n“I was,” said Tom.\n\n“Truly?” said Anne.\n\n"
        "“It was long ago,” said Tom.\n\n“I left in the spring,” he added.\n\n“Indeed!”\n\n"
    )
    assert _said("CHAPTER I.\n\n" + text * 2)[5] == ("Anne", "Inde")


def test_she_after_a_paragraph_about_her_is_her():
    text = (
        "“We shall see,” said Tom.\n\n“Perhaps,” said Anne.\n\n"
        "The news tickled Tom, but Mrs. Hale did not smile.\n\n"
        "“Where is the use of it?” she muttered.\n\n"
    )
    said = _said("CHAPTER I.\n\n" + text * 2, names="Mrs. Hale")
    assert said[2] == ("Mrs. Hale", "Wher")


def test_said_he_is_unsure_when_narration_just_brought_in_another_man():
    text = (
        "“Where to?” said Mr. Lowe.\n\n“Home,” said Mrs. Hale.  Then Mr. Grey came in with the tea."
        "\n\n“Why?” said he.\n\n"
    )
    doc = _doc("CHAPTER I.\n\n" + text * 2, names="Mr. Grey")
    why = doc.attributions[2]
    assert (why.utterance.speaker, why.guess) == (None, "Mr. Lowe")
    quiet = text.replace("  Then Mr. Grey came in with the tea.", "")
    assert _said("CHAPTER I.\n\n" + quiet * 2, names="Mr. Grey")[2] == ("Mr. Lowe", "Why?")


def test_a_short_storys_person_who_leads_many_clauses_joins_the_cast():
    story = (
        "第一章\n林秋水道：“走吧。”\n林秋水道：“走吧。”\n"
        "闰土坐在门口。我和闰土说了几句。闰土笑了，闰土又低下头。闰土站起来，闰土走了。\n"
        "闰土说：“这不能。须大雪下了才好。”\n"
        "饭后，饭后又坐，饭后再坐，饭后还坐。饭后说：“唉。”\n"
    )
    filler = "天色渐渐暗了下来。\n" * 6000  # a book long enough that one tag is not a name
    doc = _doc(story + filler)
    assert "闰土" in doc.names  # one tag, many clauses led, after 和
    assert "饭后" not in doc.names  # a word jieba knows, though it leads as many clauses


def test_a_chinese_beat_after_the_quote_names_the_speaker_but_not_a_listener():
    text = (
        "第一章\n"
        + (
            "林秋水道：“走吧。”\n“不走。”周小舟指着门外。\n天黑了。\n风大了。\n"
            "“你去哪里？”林秋水似乎听得有人问他。\n"
        )
        * 2
    )
    said = _said(text, names="林秋水,周小舟")
    assert said[1] == ("周小舟", "不走。")
    assert said[2][0] is None


def test_a_far_tag_keeps_its_speaker_when_a_later_clause_only_mentions_him():
    text = (
        "第一章\n"
        + ("周小舟道：“来了。”\n“听说你发财了，”林秋水踱开去，眼睛打量着他的全身，一面说。“好。”\n")
        * 2
    )
    said = _said(text, names="林秋水,周小舟")
    assert said[1:3] == [("林秋水", "听说你发"), ("林秋水", "好。")]


def test_a_short_name_merges_with_the_one_longer_form_of_its_sex():
    from studio_prose import cast, rules_en

    names = {"Bingley", "Mr. Bingley", "Miss Bingley"}
    merged = cast.same_people(names, "", "en", rules_en.gender_of_title, {"Bingley": "m"})
    assert merged["Mr. Bingley"][0] == "Bingley" or merged["Bingley"][0] == "Mr. Bingley"
    assert "Miss Bingley" not in merged
    unsure = cast.same_people(names, "", "en", rules_en.gender_of_title, {})
    assert unsure == {}  # of unknown sex: Mr. or Miss, nobody can tell


def test_an_english_introduction_ending_the_paragraph_above_with_a_dash():
    text = (
        "“Good day,” said Mr. Lowe.\n\n“Good day,” said Mrs. Hale.\n\n"
        "Mr. Lowe read on; but before three pages were done, Mrs. Hale, who had sat "
        "there all morning, grew tired, and she interrupted him with,--\n\n"
        "“Do you know, my dear, that the boat is late?”\n\n"
        "Anne saw what he was doing, and turned to him, and said,--\n\n"
        "“You mean to frighten me.”\n\n"
    )
    said = _said("CHAPTER I.\n\n" + text * 2, names="Anne")
    assert said[2] == ("Mrs. Hale", "Do y")  # she: the woman named before her in the lines above
    assert said[3][0] != "Mr. Lowe"  # "what he was doing" is not who speaks


def test_a_reported_answer_is_a_turn_of_the_exchange():
    text = (
        "“Have you heard the news?” said Mrs. Lowe.\n\nMr. Lowe replied that he had not.\n\n"
        "“But it is true,” returned Mrs. Lowe.\n\nMr. Lowe made no answer.\n\n"
        "“Do you not want to know?” cried Mrs. Lowe.\n\n“You want to tell me.”\n\n"
    )
    assert _said("CHAPTER I.\n\n" + text * 2, names="Mr. Lowe")[3] == ("Mr. Lowe", "You ")


def test_a_chapter_heading_closing_an_illustration_caption_loses_the_bracket():
    text = "[Illustration:\n\nChapter I.]\n\n“Good day,” said Anne.\n\n“Good day,” said Tom.\n\n"
    scenes = {u.scene for u in _doc(text * 2).utterances if u.kind == "dialogue"}
    assert not any(scene.endswith("]") for scene in scenes)


def test_a_surname_and_title_opening_the_speech_clause_is_the_speaker():
    text = (
        "第一章\n"
        + ("林秋水道：“走吧。”\n公子一眼看见匣子，林秋水才要伸手去摸，何小姐忙拦道：“别着手！”\n")
        * 2
    )
    said = _said(text, names="林秋水")
    assert said[1] == ("何小姐", "别着手！")  # not the one of the clause before


def test_bare_paragraphs_between_strict_turns_of_two_take_their_places():
    scene = (
        "“Is the boat late?” said Anne.\n\n“It often is.”\n\n“Then we wait,” said Anne.\n\n"
        "“We do.”\n\n“For how long?”\n\n“An hour,” said Tom.\n\n"
    )
    said = _said("CHAPTER I.\n\n" + scene * 2, names="Anne,Tom")
    assert said[1] == ("Tom", "It o") and said[4] == ("Anne", "For ")
    three = scene.replace("“For how long?”", "“For how long?” said Kitty.")
    said = _said("CHAPTER I.\n\n" + three * 2, names="Anne,Tom,Kitty")
    assert said[3] == (None, "We d")  # three people speak: no one's place is sure


def test_a_name_jieba_knows_as_another_word_joins_the_cast_when_people_are_spoken_to_by_it():
    text = "第一回\n" + "平儿道：“来了。”林秋水叫平儿过来，对平儿笑道：“坐。”\n" * 3
    assert "平儿" in _doc(text).names  # jieba has 平儿 as a quantifier
    verbs = "第一回\n" + "点头道：“是。”林秋水道：“好。”\n" * 3
    assert "点头" not in _doc(verbs).names


def test_a_name_being_given_is_not_who_speaks():
    text = (
        "第一回\n"
        + (
            "林秋水道：“走吧。”\n他有一个朋友，叫做周小舟，向日曾欠他几两银子，心里想道：“我去找他。”\n"
        )
        * 2
    )
    said = _said(text, names="林秋水,周小舟")
    assert said[1][0] != "周小舟"


def test_bare_questions_and_answers_go_to_the_questioner_and_to_nobody():
    text = (
        "第一回\n"
        + (
            "林秋水道：“升堂。”\n林秋水问周小舟道：“你叫什么？”答：“小人姓周。”问：“做什么的？”答称：“卖茶的。”\n"
        )
        * 2
    )
    said = _said(text, names="林秋水,周小舟")
    assert said[1:5] == [
        ("林秋水", "你叫什么"),
        (None, "小人姓周"),  # the one questioned: not the questioner
        ("林秋水", "做什么的"),
        (None, "卖茶的。"),
    ]


def test_a_name_with_one_inside_is_a_name_but_v_one_v_is_not():
    text = "第一回\n" + "王一贴笑道：“来了。”停一停道：“好。”林秋水道：“走。”\n" * 4
    names = _doc(text).names
    assert "王一贴" in names and "停一停" not in names


def test_illustration_captions_are_narration_and_no_turn_of_the_talk():
    text = (
        "“Where to?” said Mr. Lowe.\n\n“Home,” said Mrs. Hale.\n\n“Why?” said Mr. Lowe.\n\n"
        "[Illustration:\n\n“He came down to see the place”\n\n[_Copyright 1894._]]\n\n"
        "“Because it is late.”\n\n"
    )
    doc = _doc("CHAPTER I.\n\n" + text * 2)
    caption = next(u for u in doc.utterances if u.text.startswith("He came") or "He came" in u.text)
    assert caption.kind == "narration"
    said = [(a.utterance.speaker, a.utterance.text[:4]) for a in doc.attributions]
    assert said[3] == ("Mrs. Hale", "Beca")  # the turn after the picture is still hers


def test_a_titled_tag_outside_the_cast_is_the_cast_member_of_that_name():
    text = (
        "“Come, Darcy,” said Bingley.\n\n“I shall not,” said Darcy.\n\n“Why not?” said Bingley.\n\n"
        "“You are dancing,” said Mr. Darcy, looking at her.\n\n“Yes,” said Darcy.\n\n"
    )
    filler = "The rain fell on the fields. " * 2000  # a book: one tag does not make a name
    doc = _doc("CHAPTER I.\n\n" + text + filler)
    assert "Mr. Darcy" not in doc.names
    speakers = {a.utterance.speaker for a in doc.attributions}
    assert "Mr. Darcy" not in speakers and "Darcy" in speakers


def test_a_tag_naming_no_cast_member_leaves_the_quote_unknown_but_takes_a_turn():
    filler = "天色渐渐暗了下来。\n" * 6000  # a book: one tag does not make a name
    for tag in (
        "穿蓝衫的慌忙说",
        "那光头的老头子看定了他的脸，沉静的说",  # the verb two clauses on
        "驼背五少爷话还未完，突然闯进了一个人",  # words cut off
    ):
        text = (
            "第一回\n林秋水道：“来了。”\n周小舟道：“坐。”\n林秋水道：“不坐。”\n“拿来罢。”"
            + tag
            + "。\n"
        )
        said = _said(text + filler)
        assert said[3] == (None, "拿来罢。")  # someone's turn, not 周小舟's by turn-taking


def test_a_tag_that_speaks_to_me_is_not_mine():
    text = (
        "第一回\n" + "林秋水道：“走吧。”\n“请客？这是应该的。”于是对我说，“昨天的戏可好么？”\n" * 2
    )
    said = _said(text, names="林秋水")
    assert said[1][0] != "我"


def test_a_paragraph_where_two_speak_starts_the_next_run_from_the_last_one():
    doc = _doc(
        "CHAPTER I.\n\n“Good day,” said Anne.\n\n“Good day,” said Tom.\n\n", names="Anne,Tom"
    )
    doc._state.last_dialogue_paragraph = 4
    doc._note_turn(5, {"Tom": None, "~老头子": None, "Anne": None})  # in the order they spoke
    assert doc._state.chain[-1][0] == "Anne"


def test_emphasis_marks_of_plain_text_books_are_not_part_of_what_is_said():
    document = _doc(
        "“_That_ is a failing, indeed!” said Elizabeth. “Resentment _is_ a shade.”\n\n"
        "Mr. Darcy looked at the snake_case sign and said, “I call it __init__.”\n"
    )
    said = [(a.utterance.speaker, a.utterance.text) for a in document.attributions]
    assert ("Elizabeth", "That is a failing, indeed!") in said
    assert ("Elizabeth", "Resentment is a shade.") in said
    assert any(text == "I call it __init__." for _, text in said)  # not a pair of marks


def test_transliterated_names_keep_the_part_after_the_separator():
    text = (
        "第一章\n　　艾辛格.斯坦顿推开门，看了一眼屋里的人。\n"
        "　　“你们都在这里？”艾辛格.斯坦顿问道。\n"
        "　　玛丽·布朗放下手里的杯子，说：“我们等你很久了。”\n"
        "　　“下次早点出门。”玛丽·布朗笑着说。\n"
        "　　艾辛格.斯坦顿高声喊道∶“都过来，我有话要说！”\n"
        "　　唐纳德•史密斯叹了口气，对玛丽·布朗说：“他总是这样。”\n"
    )
    document = _doc(text)
    assert {"艾辛格.斯坦顿", "玛丽·布朗", "唐纳德•史密斯"} <= document.names
    assert not {"艾辛格", "玛丽", "唐纳"} & document.names
    assert [a.utterance.speaker for a in document.attributions] == [
        "艾辛格.斯坦顿",
        "玛丽·布朗",
        "玛丽·布朗",
        "艾辛格.斯坦顿",
        "唐纳德•史密斯",
    ]


def test_verb_phrases_at_clause_starts_are_neither_cast_nor_speakers():
    scene = (
        "　　林秋水说道：“好茶。”\n"
        "　　周小舟忙陪笑道：“再添一碗。”\n"
        "　　忙陪笑道：“不必了。”\n"
        "　　吃了一会，又道：“天晚了。”\n"
        "　　拉着小舟道：“走罢。”\n"
        "　　方太太道：“慢走。”\n"
    )
    document = _doc("第一章\n" + scene * 4)
    assert not {"吃了一会", "忙陪", "拉着小舟"} & document.names
    assert {"林秋水", "周小舟", "方太太"} <= document.names
    speakers = {a.utterance.speaker for a in document.attributions}
    assert not {"吃了一会", "忙陪", "拉着小舟"} & speakers


def test_a_book_and_its_chapter_with_a_dot_inside_is_not_a_name():
    from studio_prose.names_zh import dotted_names

    text = "他读过《汉书·乐志》，又读《汉书·乐志》。玛丽·布朗笑了。玛丽·布朗走了。"
    assert dotted_names(text) == {"玛丽·布朗"}
