"""Provides ProseParser: quoted speech in novels, attributed to speakers by rules.

For every speech quote, in order (the first rule that answers wins):

1. ``before``: the narration just before introduces it (``眉庄笑道：“…”``, ``Mrs. Bennet cried, “…”``);
2. ``after``: a short clause right after names the speaker (``“…”眉庄笑道。``, ``“…,” said Jane``);
3. ``continue``: an earlier quote of the same paragraph has a speaker (``“…”她顿了顿，“…”``), or an
   English speech runs on from the previous paragraph (its quote was left open);
4. ``action``: the sentence before the quote has a subject (``眉庄握住我的手。“…”``);
5. ``turn``: a paragraph that is only a quote, inside an exchange, goes to the speaker before the
   last one (two people taking turns);
6. otherwise the speaker stays unknown (None), for the user or the optional LLM pass.

Pronouns (她/他/she/he) resolve to the most recent speaker or subject of that gender (any gender
in texts that write 他 for everyone); 我/I is the narrator named by the ``narrator`` option (kept
as 我/I when none is set). Names are learnt from the text, plus the ``names`` option.

Chapters (``第一章``, ``第一回``, ``CHAPTER II.``) are scenes; ``* * *`` breaks start a new scene
inside a chapter. Narration between quotes is kept as ``narration`` context. An optional LLM pass
(off by default) re-attributes the quotes the rules leave unknown; see :mod:`studio_prose.llm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.api import (ChoiceOption, FloatOption, IntOption, ParseResult, ParseWarning, PathOption, SourceText,
                        StrOption, Utterance)
from studio_prose import cast, cast_zh, quotes, rules_en, rules_zh

_SNIFF_CHARS = 80_000
_MAX_QUOTES = 200_000  # quote marks in one paragraph; a whole novel on one line has a few tens of thousands
# how often each rule names the right speaker; below NAMING_BAR the speaker stays unknown (a wrong
# name costs more than a missing one: it reaches the training data)
CONFIDENCE = {"before": 0.9, "before-new": 0.75, "after-new": 0.75, "after": 0.9, "intro": 0.8, "split": 0.9, "continue": 0.75, "turn": 0.7, "turn-pair": 0.6, "turn-skip": 0.6, "action": 0.7, "action-far": 0.3,
              "zero": 0.3, "zero-same": 0.3, "zero-far": 0.3, "unknown": 0.0}
NAMING_BAR = 0.6


@dataclass
class Attribution:
    """How one quote got its speaker; the LLM pass and the accuracy bench read these."""

    utterance: Utterance
    paragraph: int
    method: str
    raw: str | None = None
    confidence: float = 0.0
    guess: str | None = None  # the rule's speaker when too unsure to name (confidence below the bar)
    rule: str = ""  # the rule that answered, also when too unsure to name (``method`` is then unknown)


@dataclass
class _State:
    recent: list[str] = field(default_factory=list)
    turns: list[str | None] = field(default_factory=list)
    last_dialogue_paragraph: int = -10
    open_speaker: str | None = None  # speaker of a quote left open at the end of the last paragraph


class ProseParser:
    """Novels into narration and attributed speech (see the module docstring)."""

    name = "prose"
    description = "Novels: quotes (“…” 「…」 \"…\" ‘…’) with speakers by rules (X道：“…” / “…”X说 / said X), optional LLM"
    options = (
        StrOption("narrator", "", "Name of the first-person narrator (我 / I); empty keeps 我 / I"),
        StrOption("names", "", "Extra character names, comma-separated (studio.toml aliases are added)"),
        ChoiceOption("llm", "off", "LLM pass for quotes the rules leave unknown", choices=("off", "openai", "transformers")),
        ChoiceOption("llm_scope", "unknown", "Quotes the LLM sees: unknown only, or also turn-taking and pronoun guesses",
                     choices=("unknown", "uncertain")),
        StrOption("llm_base_url", "", "OpenAI-compatible endpoint (…/v1); empty uses [augment] base_url"),
        StrOption("llm_model", "", "Model name at the endpoint, or a local model folder for transformers"),
        StrOption("llm_api_key_env", "OPENAI_API_KEY", "Environment variable that holds the API key"),
        PathOption("llm_cache", "", "JSONL file of answers: a rerun resumes where it stopped"),
        IntOption("llm_retries", 3, "Attempts per request", minimum=1, maximum=10),
        IntOption("llm_context", 3, "Paragraphs of context before a quote", minimum=0, maximum=20),
        FloatOption("llm_timeout", 60.0, "Seconds per request", minimum=1.0),
    )

    def sniff(self, source: SourceText) -> float:
        """High for text whose paragraphs hold quoted speech; a low floor for any prose."""
        head = source.text[:_SNIFF_CHARS]
        style = quotes.detect_style(head)
        paras = [p for kind, p in quotes.paragraphs(head) if kind == "text"]
        if not paras:
            return 0.0
        if re.search(r"\d{1,2}:\d{2}:\d{2}[,.]\d{3}\s*-->", head):
            return 0.05
        speech = 0
        for para in paras:
            segments = quotes.split_quotes(para.text, style)
            before = ""
            for seg in segments:
                if seg.kind == "quote" and quotes.looks_like_speech(seg.text, before, style.lang, closed=seg.closed):
                    speech += 1
                    break
                before = seg.text if seg.kind == "text" else before
        share = speech / len(paras)
        long_paras = sum(1 for p in paras if len(p.text) > 60) / len(paras)
        return round(min(0.9, 0.2 + 1.2 * share + 0.2 * long_paras), 3)

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        """Parse a novel; with ``llm`` set, unknown speakers get a second opinion from a model."""
        document = ProseDocument(source, options)
        document.run()
        if options.get("llm", "off") != "off":
            from studio_prose.llm import resolve_with_llm

            resolve_with_llm(document, options)
        return ParseResult(self.name, source, document.utterances, document.warnings)


class ProseDocument:
    """One pass over a novel's paragraphs; ``attributions`` says how each quote got its speaker."""

    def __init__(self, source: SourceText, options: Mapping[str, Any]) -> None:
        self.source = source
        self.file = source.name
        self.narrator = str(options.get("narrator") or "")
        extra = [n.strip() for n in re.split(r"[,，、;；]", str(options.get("names") or "")) if n.strip()]
        self.style = quotes.detect_style(source.text)
        self.rules = rules_zh if self.style.lang == "zh" else rules_en
        self.zh = self.style.lang == "zh"
        text = cast_zh.simplified(source.text) if self.zh else source.text
        if self.zh:
            extra = [cast_zh.simplified(n) for n in extra]
        # a short text says each name only a few times: learn from fewer sightings
        min_count = 1 if len(text) < 50_000 else 2 if len(text) < 500_000 else 3
        wrapped = self.zh and quotes.wrapped(text.split("\n", 4000)[:4000])
        joined = re.sub(r"(?<=\S)\n(?=\S)", "", text) if wrapped else text  # 九斤\n老太 in a wrapped text
        self.names = self.rules.learn_names(joined, extra, min_count=min_count)
        if self.narrator:
            self.names.add(self.narrator)
        self.pattern = self.rules.mention_pattern(self.names)
        self.genders = self.rules.infer_genders(text, self.pattern, self.names)
        self._view = text
        self.same = cast.same_people(self.names, text, self.style.lang, self.rules.gender_of_title, self.genders)  # alias → (canonical, evidence)
        self.roles = cast_zh.roles(self.names, text, rules_zh.gender_of_title) if self.zh else {}
        self.display = cast.spellings(source.text, text, self.pattern) if self.zh and text != source.text else {}
        self.neutral_he = self.style.lang == "zh" and not rules_zh.gendered_pronouns(text)
        self.first_person = "我" if self.style.lang == "zh" else "I"
        self.utterances: list[Utterance] = []
        self.warnings: list[ParseWarning] = []
        self.attributions: list[Attribution] = []
        self.paragraphs: list[quotes.Paragraph] = []
        self._state = _State()
        self._scene = "front"
        self._chapter = "front"
        self._breaks = 0
        self._seen: dict[str, int] = {}
        self._pronoun_sure = False
        self._opening = False  # the quote opens a paragraph right after another speech
        self._quote_text = ""  # the quote being attributed (for the name it is said to)
        self._intro_above = ""  # narration ending the last paragraph with a colon
        self._intro_index = -1

    # -- the pass --------------------------------------------------------------------------

    def run(self) -> None:
        paragraphs = quotes.paragraphs(self.source.text)
        front = cast.front_matter(paragraphs)
        for position, (kind, para) in enumerate(paragraphs):
            if position < front:  # a preface or contents: narration, never a scene of speech
                if kind != "break":
                    self.utterances.append(Utterance(None, _flatten(para.text, self.style.lang).strip(), "narration",
                                                     "front", self.file, para.line))
                continue
            if kind == "chapter":
                self._new_chapter(para)
                continue
            if kind == "break":
                self._breaks += 1
                self._scene = f"{self._chapter}#{self._breaks + 1}"
                self._state = _State(recent=self._state.recent[-4:])
                continue
            self.paragraphs.append(para)
            self._paragraph(para, len(self.paragraphs) - 1)

    def _new_chapter(self, para: quotes.Paragraph) -> None:
        title = " ".join(para.text.replace("　", " ").split())
        count = self._seen.get(title, 0) + 1
        self._seen[title] = count
        self._chapter = title if count == 1 else f"{title}#{count}"
        self._scene = self._chapter
        self._breaks = 0
        self._state = _State()
        self.utterances.append(Utterance(None, title, "scene", self._scene, self.file, para.line))

    def _paragraph(self, para: quotes.Paragraph, index: int) -> None:
        marks = sum(para.text.count(mark) for mark in self.style.opens)
        if marks > _MAX_QUOTES:  # not prose: millions of tiny quotes would take gigabytes as utterances
            self.warnings.append(ParseWarning(self.file, para.line, f"a paragraph with {marks:,} quote marks; kept "
                                                                    f"as narration (expected at most {_MAX_QUOTES:,})"))
            self.utterances.append(Utterance(None, para.text, "narration", self._scene, self.file, para.line))
            return
        segments = quotes.split_quotes(para.text, self.style)
        items: list[tuple[str, quotes.Segment]] = []
        narration: list[quotes.Segment] = []
        for seg in segments:
            if seg.kind == "quote" and quotes.looks_like_speech(seg.text, _tail(narration), self.style.lang,
                                                                closed=seg.closed):
                if narration:
                    items.append(("text", _merge(narration)))
                    narration = []
                items.append(("quote", seg))
            else:
                narration.append(seg if seg.kind == "text" else quotes.Segment("text", para.text[seg.start:seg.end],
                                                                                seg.start, seg.end))
        if narration:
            items.append(("text", _merge(narration)))
        view = cast_zh.simplified(para.text) if self.zh else para.text
        state = self._state
        self._para_mentions: list[str] = []
        in_paragraph: str | None = None
        starts_with_quote = bool(items) and items[0][0] == "quote"
        had_speech = False
        for position, (kind, seg) in enumerate(items):
            if kind == "text":
                text = _flatten(seg.text, self.style.lang).strip()
                if text.strip("，。、,.;；:： 　"):
                    self.utterances.append(Utterance(None, text, "narration", self._scene, self.file, para.line_at(seg.start)))
                self._note_subjects(_flatten(view[seg.start:seg.end], self.style.lang))
                continue
            prev = items[position - 1][1] if position and items[position - 1][0] == "text" else None
            nxt = items[position + 1][1] if position + 1 < len(items) and items[position + 1][0] == "text" else None
            before = _flatten(view[prev.start:prev.end], self.style.lang) if prev else ""
            if position == 0 and starts_with_quote and self._intro_above and index == self._intro_index + 1:
                before = self._intro_above  # 九斤老太…说：⏎“…”: the introduction ends the paragraph above
            after = _flatten(view[nxt.start:nxt.end], self.style.lang) if nxt else ""
            self._opening = position == 0 and starts_with_quote and index - state.last_dialogue_paragraph == 1
            self._quote_text = view[seg.start + 1:seg.end - 1 if seg.closed else seg.end]
            raw, method = self._attribute(before, after, in_paragraph, position == 0 and starts_with_quote, index)
            speaker = self._resolve(raw)
            speaker = self.same[speaker][0] if speaker in self.same else speaker
            if raw and method == "after" and self.zh and raw not in self.names and raw not in self.rules.PRONOUNS:
                method = "after-new"  # a name first seen in this tag
            if method.endswith("-new") and raw and raw not in self.roles:
                known, meaning = cast_zh.role(raw, self.names, self._view, rules_zh.gender_of_title)
                if known:
                    self.roles[raw] = meaning
            if speaker is not None and speaker in self.roles:
                speaker = self.roles[speaker]
                method = method if speaker is not None else f"{method}-role"
            if speaker is None and raw is not None and method != "unknown" and not method.endswith("-role"):
                method = f"{method}-unresolved"
            confidence = CONFIDENCE.get(method, 0.0) if speaker is not None else 0.0
            if raw in self.rules.PRONOUNS and raw != self.first_person:
                # she → the woman of this paragraph or exchange; 他 for everyone, or a person of
                # unknown gender, or one from further back, is a guess among many
                confidence *= 0.9 if self._pronoun_sure else 0.6
            guess, rule = None, method
            if speaker is not None and confidence < NAMING_BAR:
                guess, speaker, method = speaker, None, "unknown"
            utt = Utterance(self.display.get(speaker, speaker) if speaker else None,
                            _flatten(seg.text, self.style.lang).strip(), "dialogue", self._scene, self.file,
                            para.line_at(seg.start))
            self.utterances.append(utt)
            self.attributions.append(Attribution(utt, index, method, raw, confidence,
                                                 self.display.get(guess, guess) if guess else None, rule))
            if speaker:
                in_paragraph = speaker
                self._remember(speaker)
            had_speech = True
            if not seg.closed:
                self.warnings.append(ParseWarning(self.file, para.line_at(seg.start),
                                                  "quote not closed in its paragraph; taken to run to the paragraph end"))
        last = items[-1] if items else None
        tail = _flatten(view[last[1].start:last[1].end], self.style.lang).rstrip() if last and last[0] == "text" else ""
        self._intro_above = tail if tail.endswith(tuple("：:∶﹕")) else ""
        self._intro_index = index
        state.open_speaker = in_paragraph if items and items[-1][0] == "quote" and not items[-1][1].closed else None
        if had_speech:
            if index - state.last_dialogue_paragraph > 3:
                state.turns = []
            state.turns.append(in_paragraph)
            state.last_dialogue_paragraph = index

    def _attribute(self, before: str, after: str, in_paragraph: str | None, starts: bool, index: int
                   ) -> tuple[str | None, str]:
        rules = self.rules
        found = rules.preposed(before, self.pattern) if before else None
        if found is not None and found[0] is not None:
            return found[0], found[1]
        post = rules.postposed(after, self.pattern) if after else None
        if post is not None:
            return post, "after"
        if found is not None:  # an introduction without a subject (又道：): who spoke or acted last here
            if in_paragraph:
                return in_paragraph, "zero-same"
            intro = _last_sentence(before.rstrip("：:，, 　"), self.style.lang)
            earlier = self._paragraph_subject(before)  # 顿一顿又道： continues the topic
            return (earlier, "zero" if len(intro) <= 8 else "zero-far") if earlier else (None, "unknown")
        if in_paragraph:
            return in_paragraph, "continue"
        state = self._state
        if starts and state.open_speaker:  # a speech over paragraphs: the quote reopens, never closed
            return state.open_speaker, "continue"
        if before.strip():
            sentence = _last_sentence(before, self.style.lang)
            who = self._nearest(sentence) if sentence else None
            if who is not None:
                # 眉庄握住我的手。“…”: a short beat led by its subject, right before the quote
                close = before.strip(" 　。.!！?？") == sentence.strip(" 　。.!！?？") and len(sentence) <= (24 if self.zh else 90)
                return who, "action" if close and sentence.lstrip(" 　").startswith(who) else "action-far"
        if starts and index - state.last_dialogue_paragraph <= 2 and state.turns:
            other, how = self._turn_taker(index - state.last_dialogue_paragraph == 1)
            addressee = self._addressee()
            if other is not None and addressee is not None and self._canonical(addressee) == other:
                return None, "unknown"  # “Lizzy, …” is said to Lizzy, not by her
            if other is not None:
                return other, how
        return None, "unknown"

    def _canonical(self, name: str) -> str:
        name = self.roles.get(name) or name
        return self.same[name][0] if name in self.same else name

    def _addressee(self) -> str | None:
        """The person a quote speaks to by name (“Lizzy, …” / “…, Mr. Bennet.” / “宝玉，你…”)."""
        text = self._quote_text.strip()
        if self.zh:
            match = self.pattern.match(text)
            ok = match is not None and text[match.end():match.end() + 1] in "，,！!"
        else:
            match = self.pattern.match(text) or self.pattern.search(text, max(0, len(text) - 30))
            ok = match is not None and (match.start() == 0 and text[match.end():match.end() + 1] in ",!"
                                        or match.start() > 0 and text[match.start() - 2:match.start()] == ", ")
        if not ok or match is None or match.group() in self.rules.PRONOUNS:
            return None
        return match.group()

    def _nearest(self, sentence: str) -> str | None:
        if self.style.lang == "zh":
            return rules_zh.nearest_subject(sentence, self.pattern)
        return self.rules.subject(sentence, self.pattern)

    def _paragraph_subject(self, before: str) -> str | None:
        """The subject of the latest earlier sentence of the paragraph that has one."""
        splitter = rules_zh._SENTENCE_SPLIT if self.style.lang == "zh" else re.compile(r"(?<=[.!?;])\s+")
        sentences = [s for s in splitter.split(before.rstrip("：:，, 　")) if s.strip()]
        for sentence in reversed(sentences[:-1]):
            who = self._nearest(sentence)
            if who is not None:
                return who
        return None

    def _turn_taker(self, adjacent: bool) -> tuple[str | None, str]:
        """The other speaker of an exchange of two: the last three turns went A, B, A (``turn``), or
        the last two went B, A in the paragraphs right before (``turn-pair``, less sure)."""
        turns = self._state.turns
        if len({t for t in turns[-4:] if t}) != 2:
            return None, "unknown"  # three or more people talk: who answers is anyone's guess
        if len(turns) >= 3 and None not in turns[-3:]:
            a, b, c = turns[-3:]
            if a == c and a != b:
                return b, "turn"
        if adjacent and len(turns) >= 2 and None not in turns[-2:] and turns[-2] != turns[-1]:
            return turns[-2], "turn-pair"
        if adjacent and len(turns) >= 2 and turns[-2] is not None and turns[-1] is None:
            return turns[-2], "turn-skip"  # A said …; an untagged answer; A again
        return None, "unknown"

    def _resolve(self, raw: str | None) -> str | None:
        if raw is None or raw == "?":
            return None
        if raw == self.first_person:
            return self.narrator or raw
        gender = self.rules.PRONOUNS.get(raw)
        if gender is None:
            return raw
        if self.neutral_he and raw == "他":
            gender = ""
        narrator = self.narrator or self.first_person
        state = self._state
        partners = [s for s in reversed(state.turns[-4:]) if s]
        self._pronoun_sure = False
        if self._opening and state.turns and state.turns[-1] and gender:
            # “…,” said she, opening a paragraph of an exchange: the one of her sex who did not
            # speak last (people take turns)
            others = {p for p in partners if p != state.turns[-1] and p != narrator
                      and (self.genders.get(p) or self.rules.gender_of_title(p)) == gender}
            if len(others) == 1:
                self._pronoun_sure = True
                return others.pop()
        for pool in (reversed(self._para_mentions), partners, reversed(state.recent[-8:])):
            found = self._pick(pool, gender, narrator)
            if found is not None:
                if self._para_mentions and found == self._para_mentions[-1] and gender:
                    self._pronoun_sure = True  # 玄凌走来…，他却笑道: the person just named
                elif self._pronoun_sure and self._rivals(found, gender, narrator, partners):
                    self._pronoun_sure = False  # said she, with two women in the scene
                return found
        return None

    def _rivals(self, found: str, gender: str, narrator: str, partners: list[str]) -> bool:
        """Whether another person of ``gender`` is as near as ``found`` (this paragraph, the
        exchange, the last few people named)."""
        near = {*self._para_mentions, *partners, *self._state.recent[-3:]} - {found, narrator}
        return any((self.genders.get(n) or self.rules.gender_of_title(n)) == gender
                   for n in near if n not in self.rules.PRONOUNS)

    def _pick(self, pool: Any, gender: str, narrator: str) -> str | None:
        """The first name of ``pool`` of ``gender`` (or, failing that, of unknown gender); sets
        ``_pronoun_sure`` when the gender matches or the name is the only one it could be."""
        unknown: list[str] = []
        for name in pool:
            if name == narrator or name in self.rules.PRONOUNS:
                continue
            known = self.genders.get(name) or self.rules.gender_of_title(name)
            if not gender or known == gender:
                self._pronoun_sure = bool(gender)
                return name
            if known is None and name not in unknown:
                unknown.append(name)
        self._pronoun_sure = bool(gender) and len(unknown) == 1
        return unknown[0] if unknown else None

    def _remember(self, name: str) -> None:
        recent = self._state.recent
        if recent and recent[-1] == name:
            return
        if name in recent:
            recent.remove(name)
        recent.append(name)
        del recent[:-16]

    def _note_subjects(self, text: str) -> None:
        """Names mentioned in narration become the likeliest referents of later pronouns."""
        for match in self.pattern.finditer(text):
            word = match.group()
            if word in self.rules.PRONOUNS or word in rules_zh._PLURALS or self.zh and cast_zh.group(word):
                continue
            if word in self.roles:
                if self.roles[word] is None:
                    continue  # 有人 / 那掌柜: nobody a pronoun can point back to
                word = self.roles[word]
            word = self.same[word][0] if word in self.same else word
            self._remember(word)
            self._para_mentions.append(word)


def _tail(narration: list[quotes.Segment]) -> str:
    """The narration just before a quote, up to its last visible character (all the speech test reads);
    joining every earlier piece for each quote would be quadratic in a paragraph of many quotes."""
    for piece in reversed(narration):
        if piece.text.strip():
            return piece.text
    return ""


def _merge(parts: list[quotes.Segment]) -> quotes.Segment:
    return quotes.Segment("text", "".join(p.text for p in parts), parts[0].start, parts[-1].end)


def _flatten(text: str, lang: str) -> str:
    if "\n" not in text:
        return text
    return ("" if lang == "zh" else " ").join(line.strip() for line in text.split("\n"))


def _last_sentence(text: str, lang: str) -> str:
    if lang == "zh":
        parts = [p for p in rules_zh._SENTENCE_SPLIT.split(text.strip(" 　")) if p.strip()]
    else:
        parts = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if p.strip()]
    return parts[-1] if parts else ""
