"""Provides speaker attribution rules for Chinese prose.

- pre-posed: ``眉庄笑道：“…”`` / ``她点点头，微笑说：“…”`` / ``只见槿汐道：“…”``: the subject of
  the sentence that introduces the quote (the first name or pronoun that is not an object);
- post-posed: ``“…”眉庄笑道，“…”`` / ``“…”我道。``: a short clause right after the quote;
- post-posed further on: ``“…”阿Ｑ指着一个孩子，分辩说。`` (a name opening the sentence, a
  speech verb ending a later clause); a tag's first word as jieba segments it when it has a
  person's shape but is not in the cast yet;
- names are learnt from the text itself: strings that often start a sentence introducing speech
  or a tag after a quote (``眉庄``, ``槿汐``, ``温实初``, ``七斤嫂``, ``周瑞家的``), kept when
  jieba's dictionary tags them as a person (nr), does not know them (the book's own names), or
  they carry a title; adverbs and verb phrases, which the dictionary knows by other tags, are
  dropped; plus names the user gives (studio.toml);
- a name's gender (for 她/他) comes from its title (妃, 嫔, 娘娘 … / 王, 爷, 公公 …) or from which
  pronoun most often follows it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from studio.api import HAN_CLASS, is_han
from studio_prose.cast_zh import (
    GROUP_WORDS,
    STORYTELLER,
    dictionary_tag,
    first_word,
    group,
    person_tag,
)

PRONOUNS = {"我": "narrator", "她": "f", "他": "m", "伊": "f"}  # 伊: she, in early modern prose
_VERB_FINAL = set("道说问答笑叹喝骂喊叫嚷吟念唤劝求哭泣斥嗔啐应曰云想语言咐醒释充口断声句嘀咕嘟哼")
_SPEECH_INTRO = re.compile(
    r"(?:笑道|问道|说道|答道|叹道|喝道|冷笑|轻声|低声|柔声|沉声|笑|道|说|问|答|叹|喝|骂|喊|叫|唤|劝|泣|斥|嗔|啐|应|曰|想)"
    r"[：:∶﹕，,]?[ 　]*[“「『\"]"
)
_COLONS = "：:∶﹕"
# “…”秀才说。 / “…，”他说，“…”: a short tag right after a closing mark
_SPEECH_TAG = re.compile(
    r"[”」』\"][ 　]*([^，。！？!?,；;：:“”「」『』\"\n]{1,10}?)"
    r"(?:笑道|问道|说道|答道|道|说|问|答|叹|喝|骂|喊|叫|嚷)[，。,.！!？?]"
)
_SENTENCE_SPLIT = re.compile(r"[。！？!?；;…\n]")
_OBJECT_BEFORE = set(
    "向对朝跟和与同替给把被让令叫唤请问看望瞧盯拉握扶抱推见听随陪带冲往为自从由比像似将等着了过搀拦打"
    "在于上住到起"
)
_BEFORE_SUBJECT_PRONOUN = set("忽然便就却才又也这那时后此但而只正且倒竟遂乃即终仍还都已再先")
_SUBJECT_AFTER_SEE = (
    "只见",
    "但见",
    "却见",
    "忽见",
    "又见",
    "就见",
    "便见",
    "只听",
    "但听",
    "忽听",
    "却听",
    "又听",
    "便听",
    "就听",
    "正见",
    "只听得",
    "听得",
    "因听",
    "忽听得",
    "又听得",
)
_STOP_FIRST = set(
    "句我你他她它这那只便又也却都就一不因所于如若当还再才已正将把被让对向和与同跟在从说道笑问想看听见了"
    "心口手脸眼头声话有没是然但可而虽此忽突随连急赶轻微淡低含半良许片几何怎什么些每各其并及或"
    "些个两三四五六七八九十上下中前后里外左右大小多少好很最更太真实仍依终竟"
)
_STOP_WORDS = {
    "小主",
    "娘娘",
    "姑娘",
    "公公",
    "大人",
    "奴婢",
    "奴才",
    "臣妾",
    "嫔妾",
    "本宫",
    "哀家",
    "朕",
    "众人",
    "大家",
    "皇上",
    "皇后",
    "太后",
    "皇帝",
}  # kept as names, but not learnt as stems of longer ones
_BAD_LAST = set(
    "笑道说问叹低轻含忙又也便却只才不一的看听见向对和与着了地得终竟仍更已正将把被让方"
    "下住开起来去到在过我你他她边旁然头身手首膝嘴脸眼泪"
)
_VERBISH = set("走来去过看说笑道问叹站坐跪起伸拉握抬低转回进出望听见想拍摇点扶")
_NOT_NAMES = {
    "自己",
    "二人",
    "两人",
    "三人",
    "众人们",
    "大家",
    "彼此",
    "对方",
    "旁人",
    "别人",
    "有人",
    "此人",
    "那人",
    "这人",
    "众位",
    "诸位",
    "一人",
    "一个",
    "那个",
    "这个",
    "了一声",
    "旁边",
    "身后",
    "气氛",
    "语气",
    "神色",
    "目光",
    "声音",
    "心里",
    "心中",
    "嘴里",
    "口中",
    "眼中",
    "脸上",
}
_MANNER = {
    "怜惜",
    "无奈",
    "关切",
    "沉稳",
    "惊喜",
    "亲切",
    "呵斥",
    "倔强",
    "温柔",
    "安静",
    "平静",
    "淡然",
    "冷然",
    "郑重",
    "恭谨",
    "恭敬",
    "认真",
    "疑惑",
    "诧异",
    "惊讶",
    "惊异",
    "好奇",
    "得意",
    "委屈",
    "愤然",
    "愤怒",
    "欣然",
    "欣喜",
    "感激",
    "感慨",
    "坚定",
    "犹豫",
    "迟疑",
    "沉吟",
    "温和",
    "和蔼",
    "严肃",
    "冷淡",
    "冷静",
    "沉静",
    "轻快",
    "爽朗",
    "不安",
    "焦急",
    "着急",
    "担忧",
    "忧心",
    "伤感",
    "悲伤",
    "哽咽",
    "黯然",
    "怅然",
    "温言",
    "柔声",
    "厉声",
    "低声",
    "轻声",
    "高声",
    "大声",
    "朗声",
    "沉声",
    "冷笑",
    "微笑",
    "苦笑",
    "含笑",
}
_OBJECT_MARKERS = set("向对和与跟同给把朝替陪随见叫唤请问让令被")
_PLURALS = {"我们", "我們", "他们", "他們", "她们", "她們", "伊们", "大家"}
_FEMALE_TITLES = (
    "妃",
    "嫔",
    "后",
    "娘",
    "姐",
    "妹",
    "主",
    "贵人",
    "常在",
    "答应",
    "嬷嬷",
    "嬷",
    "姑",
    "女",
    "婢",
    "夫人",
    "昭仪",
    "芳仪",
    "淑仪",
    "德仪",
    "婕妤",
    "容华",
    "良媛",
    "才人",
    "采女",
    "美人",
    "娘子",
    "姥姥",
    "太太",
    "奶奶",
    "姨",
    "嫂",
    "妈",
    "母",
    "婆",
    "小姐",
    "格格",
    "公主",
    "宫人",
    "丫头",
    "丫鬟",
)
_MALE_TITLES = (
    "王",
    "帝",
    "皇上",
    "爷",
    "公公",
    "太医",
    "大人",
    "哥",
    "弟",
    "公子",
    "老爷",
    "先生",
    "将军",
    "父",
    "叔",
    "伯",
    "舅",
    "侍卫",
    "太监",
    "少爷",
    "相公",
    "大夫",
    "皇子",
    "阿哥",
    "道人",
    "和尚",
    "知县",
)
_MAX_NAME = 4
_NUMBER_FIRST = set("一二三四五六七八九十")


def _spellings(text: str, name: str) -> set[str]:
    """``name`` as ``text`` spells it: the same letters in full or half width (阿Q / 阿Ｑ)."""
    full = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in name)
    half = "".join(chr(ord(ch) - 0xFEE0) if "！" <= ch <= "～" else ch for ch in name)
    return {variant for variant in (full, half) if variant != name and variant in text}


def trie_pattern(words: Iterable[str], suffix: str = "") -> str:
    """A regex source matching any of ``words``, longest first, built as a trie (fast to scan)."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    source = build(trie)
    return f"(?:{source}){suffix}" if source else "(?!)"


def _name_char(ch: str) -> bool:
    return is_han(ch) or "Ａ" <= ch <= "Ｚ" or ch in "·•."


def _count_stems(piece: str, starts: Counter[str]) -> None:
    piece = piece.lstrip(" 　")
    for lead in (
        "只见",
        "但见",
        "却见",
        "忽见",
        "又见",
        "那",
        "这",
        "只听",
        "却说",
        "且说",
        "便",
        "却",
        "又",
        "只",
    ):
        if piece.startswith(lead) and len(piece) > len(lead) + 1:
            piece = piece[len(lead) :]
            break
    if len(piece) < 2 or not _name_char(piece[0]):
        return
    wife = re.match(f"[{HAN_CLASS}]{{1,3}}家的", piece)
    if wife:  # 周瑞家的: the wife of 周瑞, a name of its own
        starts[wife.group()] += 1
    for size in range(2, _MAX_NAME + 1):
        stem = piece[:size]
        if len(stem) < size or not all(_name_char(ch) for ch in stem) or stem[-1] in "·•.":
            continue
        if stem[0] in _STOP_FIRST and not (stem[0] in _NUMBER_FIRST and gender_of_title(stem)):
            continue  # 七斤嫂 / 三太太 are names; 三人 / 一个 are not
        starts[stem] += 1


def _candidates(text: str) -> Counter[str]:
    """2- to 4-character starts of sentences and clauses that introduce a quote or tag one."""
    starts: Counter[str] = Counter()
    for match in _SPEECH_INTRO.finditer(text):
        begin = max(0, match.start() - 40)
        window = text[begin : match.start()]
        cut = max(window.rfind(mark) for mark in "。！？!?；;…\n”」：:，,")
        for piece in {window[cut + 1 :].lstrip(" 　"), _sentence_start(window)}:
            _count_stems(piece, starts)
    for match in _SPEECH_TAG.finditer(text):
        _count_stems(match.group(1), starts)
    return starts


def learn_names(text: str, given: Iterable[str] = (), min_count: int = 3) -> set[str]:
    """Names learnt from ``text``, plus the ``given`` ones.

    A candidate is a 2-4 character start of sentences that introduce speech (``眉庄笑道：“``).
    It is kept when it is frequent, ends like a name (not in a verb or adverb character), is
    not a longer form of a kept name plus a word (玄凌神色), is not a prefix of a longer
    candidate that is nearly as frequent (温实 of 温实初), and either carries a title (华妃,
    陆昭仪) or is found after an object marker (向眉庄, 对玄凌) now and then, as names are and
    adverbs (缓缓) or verb phrases (点头) are not.
    """
    starts = _candidates(text)
    longest_extension: Counter[str] = Counter()
    for stem, count in starts.items():
        last = stem[-1]  # 林秋水对 is 林秋水 + 对, not a longer name
        plain = last not in _VERBISH and last not in _BAD_LAST and last not in _OBJECT_MARKERS
        if len(stem) > 2 and plain and count > longest_extension[stem[:-1]]:
            longest_extension[stem[:-1]] = count
    pool: set[str] = set()
    for stem, count in starts.items():
        if stem.endswith("家的") and count >= min_count:
            pool.add(stem)
            continue
        need = max(1, min_count - 1) if person_tag(stem) else min_count
        if count < need or stem[-1] in _BAD_LAST or stem in _NOT_NAMES or stem in _MANNER:
            continue
        if len(stem) > 2 and stem[-1] in _VERBISH:
            continue
        doubled = stem[0] == stem[1] or stem[-1] == stem[-2] or (len(stem) == 3 and stem[1] == "一")
        if doubled and not gender_of_title(stem):
            continue  # 缓缓 / 清凌凌 / 停一停, but 哥哥 / 姐姐 are people
        if longest_extension[stem] >= max(2, 0.6 * count) and stem not in _STOP_WORDS:
            continue  # 温实 is the start of 温实初
        if len(stem) >= 3 and starts[stem[:-1]] and count < 0.6 * starts[stem[:-1]]:
            continue  # 眉庄手 is 眉庄 + a word
        pool.add(stem)
    # 眉庄向槿 is 眉庄 + …
    pool = {
        w for w in pool if w.endswith("家的") or not any(w[:k] in pool for k in range(2, len(w)))
    }
    total: Counter[str] = Counter()
    marked: Counter[str] = Counter()
    adverbial: Counter[str] = Counter()  # 无奈地: a manner word, not a name
    pattern = re.compile(trie_pattern(pool))
    for match in pattern.finditer(text):
        word = match.group()
        total[word] += 1
        if match.start() and text[match.start() - 1] in _OBJECT_MARKERS:
            marked[word] += 1
        if text[match.end() : match.end() + 1] == "地":
            adverbial[word] += 1
    names = {w for w in pool if _name_evidence(w, total[w], marked[w], adverbial[w])}
    names = {
        w for w in names if w.endswith("家的") or not any(w[:k] in names for k in range(2, len(w)))
    }
    for name in given:
        if name:
            names.add(name)
            names.update(_spellings(text, name))  # the user typed 阿Q, the book prints 阿Ｑ
    return names


def _name_evidence(word: str, total: int, marked: int, adverbial: int) -> bool:
    """Whether a frequent speech-tag start is a person: a title, a name in jieba's dictionary, a
    word jieba does not know (the book's own names: 浦墨卿, 阿Ｑ), or a noun found now and then
    after an object marker (向X, 对X); adverbs (缓缓) and verb phrases (点头) are in the dictionary
    with other tags, and manner words take 地."""
    if gender_of_title(word) or person_tag(word) or group(word):
        return True
    if not total or adverbial > 0.01 * total:
        return False
    tag = dictionary_tag(word)
    if tag is None or tag == "nz":  # unknown to the dictionary, or a proper noun
        return True
    return tag in ("n", "ng") and marked / total >= 0.04


def _sentence_start(window: str) -> str:
    cut = max(window.rfind(mark) for mark in "。！？!?；;…\n”」")
    return window[cut + 1 :].lstrip(" 　")


def mention_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """A regex matching any name or pronoun, longest first.

    Pronouns: 我/他/她, and plural 我们/他们/她们/大家.
    """
    return re.compile(trie_pattern({*names, *PRONOUNS, *_PLURALS, *GROUP_WORDS, *STORYTELLER}))


def infer_genders(text: str, pattern: re.Pattern[str], names: Iterable[str]) -> dict[str, str]:
    """``f`` or ``m`` for names whose title or following pronouns say so."""
    genders: dict[str, str] = {}
    counts: dict[str, Counter[str]] = {}
    for name in names:
        title = gender_of_title(name)
        if title:
            genders[name] = title
    if not gendered_pronouns(text):
        return genders  # 红楼梦 writes 他 for everyone: pronouns say nothing about gender
    # 玄凌……，他……: a pronoun opening the next clause usually refers back to the subject
    next_clause_pronoun = re.compile(
        f"(?P<name>{pattern.pattern})[^。！？“”「」，,；;]{{0,20}}[，,。；;][ 　]*"
        "(?P<pronoun>[他她])(?![们們])"
    )
    for match in next_clause_pronoun.finditer(text):
        name = match.group("name")
        if name in genders or name in PRONOUNS or name in _PLURALS:
            continue
        counts.setdefault(name, Counter())["f" if match.group("pronoun") == "她" else "m"] += 1
    for name, counter in counts.items():
        total = sum(counter.values())
        top, hits = counter.most_common(1)[0]
        if total >= 2 and hits / total >= 0.7:
            genders[name] = top
    return genders


def gendered_pronouns(text: str) -> bool:
    """True when the text tells 她 from 他 (modern prose; classical texts use 他 for both)."""
    sample = text[:300_000]
    he, she = sample.count("他"), sample.count("她") + sample.count("伊")
    return she >= 0.1 * max(he, 1)


def subject(sentence: str, pattern: re.Pattern[str]) -> str | None:
    """The first name or pronoun of ``sentence`` that is not an object or a possessor."""
    return _subject(sentence, pattern)[0]


def _subject(sentence: str, pattern: re.Pattern[str]) -> tuple[str | None, str | None]:
    """``(subject, possessor)``: the first subject, and the first ``X的`` seen (a fallback)."""
    possessor = None
    for match in pattern.finditer(sentence):
        start, end = match.span()
        word = match.group()
        after = sentence[end : end + 1]
        if after in ("的", "之"):
            possessor = possessor or word
            continue
        before = sentence[max(0, start - 3) : start]
        if before and before[-1] in _OBJECT_BEFORE and not before.endswith(_SUBJECT_AFTER_SEE):
            continue
        if (
            len(word) == 1
            and before
            and is_han(before[-1])
            and before[-1] not in _BEFORE_SUBJECT_PRONOUN
        ):
            continue  # 啐他道: a pronoun right after a verb is its object
        if word in _PLURALS or group(word):
            return "?", possessor
        return word, possessor
    return None, possessor


def _last_sentence(text: str) -> str:
    parts = _SENTENCE_SPLIT.split(text.rstrip(" 　：:，,"))
    for part in reversed(parts):
        if part.strip():
            return part
    return ""


_CLAUSE_SPLIT = re.compile(r"[，,、]")


def nearest_subject(sentence: str, pattern: re.Pattern[str]) -> str | None:
    """The subject of the clause nearest the end of ``sentence`` that has one.

    ``众人眼中俱是泪光，我含笑道`` → 我; ``她点点头，细细看我两眼，微笑说`` → 她 (我 is an object);
    ``华妃的笑容愈发明艳，笑吟吟道`` → 华妃 (a possessor, when no clause has a subject; never the
    first person: ``忽听得我的朋友的声音道`` is the friend's).
    """
    fallback = None
    for clause in reversed(_CLAUSE_SPLIT.split(sentence)):
        if not clause.strip():
            continue
        who, possessor = _subject(clause, pattern)
        if who is not None:
            return who
        if possessor != "我":  # 我的朋友道 / 我的前辈…对我说: the narrator's friend speaks
            fallback = fallback or possessor
    return fallback


def preposed(before: str, pattern: re.Pattern[str]) -> tuple[str | None, str] | None:
    """``(speaker, how)`` when the narration right before a quote introduces it.

    Returns None when the text before is not an introduction; ``(None, "zero")`` when it is one
    without a subject in its sentence (``又道：``), for the caller to fill from context.
    """
    lead = before.rstrip(" 　")
    if not lead:
        return None
    colon = lead[-1] in _COLONS
    if lead[-1] in _VERB_FINAL:  # 道“…” with no mark between
        lead, colon = lead + "：", True
    comma = lead[-1] in "，,"
    core = lead.rstrip("：:∶﹕，, 　")
    if not core or not (colon or (comma and (core[-1] in _VERB_FINAL or _asks(core, pattern)))):
        return None
    sentence = _last_sentence(core)
    if not sentence:
        return None
    who = nearest_subject(sentence, pattern)
    if who is not None:
        return who, "before"
    fresh = _bare_subject(sentence)
    if fresh is not None:
        return fresh, "before-new"
    return None, "zero"


_ASKS = re.compile(
    r"(?:问|告诉|嘱咐|吩咐|叮嘱|劝|骂|回答|答应)了?(?P<whom>[" + HAN_CLASS + r"Ａ-Ｚ]{1,4})$"
)


def _asks(core: str, pattern: re.Pattern[str]) -> bool:
    """``我便问他，“…”``: a verb of asking or telling and the person asked, then the speech."""
    match = _ASKS.search(core)
    if match is None:
        return False
    whom = match.group("whom")
    return whom in PRONOUNS or whom in _PLURALS or bool(pattern.fullmatch(whom))


_BARE = re.compile(
    r"^(?:只见|却见|又见|那|这|因|便)?(?P<who>[" + HAN_CLASS + r"Ａ-Ｚ]{2,4}?)"
    r"(?:又|便|就|也|忙|连忙|因|都|亦|遂|乃|才|却|只)?(?:冷笑道|笑道|问道|说道|答道|叹道|喝道|叫道|"
    r"嚷道|哭道|道|说|问|答|曰)$"
)


def _bare_subject(sentence: str) -> str | None:
    """``扈姑道`` with 扈姑 not (yet) in the cast: a name-shaped word right before the verb, which
    the dictionary does not know as another kind of word."""
    match = _BARE.match(sentence.strip(" 　"))
    if match is None:
        return None
    return _name_shaped(match.group("who"))


def postposed(after: str, pattern: re.Pattern[str]) -> str | None:
    """The speaker named in a short clause right after a quote (``“…”眉庄笑道，``)."""
    text = after.lstrip(" 　")
    if not text:
        return None
    far = _far_tag(text, pattern)
    if far is not None:
        return far
    stop = re.search(r"[，。！？!?,；;：:“「\n]", text)
    if stop is None or stop.start() > 16 or text[stop.start()] in "：:“「":
        return None
    clause = text[: stop.start()]
    if (
        not clause
        or clause[-1] not in _VERB_FINAL
        and not clause.endswith(("说着", "笑着", "问着", "道罢", "说罢", "说完"))
    ):
        return None
    match = pattern.match(clause)
    if match is None:
        match = pattern.search(clause)
        if match is None or match.start() > 3:
            return _fresh_name(clause)
    word = match.group()
    return "?" if word in _PLURALS or group(word) else word


def _fresh_name(clause: str) -> str | None:
    """The first word of a speech tag, when it has a person's shape (王胡 in
    ``王胡轻蔑的抬起眼来说``)."""
    who = first_word(clause)
    if who is None or not 2 <= len(who) <= 4 or len(who) == len(clause):
        return None
    return _name_shaped(who)


_PLACE = set("里的上中下前后边头外内")


def _name_shaped(who: str) -> str | None:
    if not all(_name_char(ch) for ch in who) or any(ch in _PLACE for ch in who[1:]):
        return None  # 饭店里人: a place and its people
    if who[0] in _STOP_FIRST and not (who[0] in _NUMBER_FIRST and gender_of_title(who)):
        return None
    if who in _NOT_NAMES or who in _MANNER or who[-1] in _BAD_LAST or group(who):
        return None
    tag = dictionary_tag(who)
    if tag not in (None, "nr", "nrfg", "nrt", "nz") and not gender_of_title(who):
        return None
    return who


def _far_tag(text: str, pattern: re.Pattern[str]) -> str | None:
    """``“…”阿Ｑ指着一个孩子，分辩说。``: a name opening the sentence after a quote, whose second
    or third clause ends in a speech verb before the sentence ends."""
    match = pattern.match(text)
    if match is None or match.group() in _PLURALS:
        return None
    end = re.search(r"[。！？!?；;：:“「”」]", text)
    sentence = text[: end.start() if end else 40][:40]
    clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c]
    if len(clauses) < 2 or len(clauses) > 3 or end is None or text[end.start()] not in "。！？!?":
        return None
    tags = (*_VERB_FINAL, "说着", "笑着", "问着")
    if not any(c.endswith(tags) for c in clauses[1:]):
        return None
    if any(pattern.search(c) for c in clauses[1:]):
        return None  # another person in the later clauses: 阿Ｑ看着王胡，王胡说
    word = match.group()
    return "?" if group(word) else word


def gender_of_title(name: str) -> str | None:
    """Gender implied by a title at the end of a name (华妃 → f, 果郡王 → m)."""
    if name.endswith(_FEMALE_TITLES):
        return "f"
    if name.endswith(_MALE_TITLES):
        return "m"
    return None
