"""Provides the speaker rules of :class:`studio_prose.parser.ProseDocument` as a mixin: the
cascade that attributes one quote (before, after, epithet, zero, continue, action, turn), the
confidence of each rule and the bar below which a speaker stays unknown, the record of how each
quote got its speaker, and the names narration brings up for later pronouns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from studio.api import Utterance
from studio_prose import cast_zh, rules_en, rules_zh, words_zh
from studio_prose.turns import UNREAD, Turns

# how often each rule names the right speaker; below NAMING_BAR the speaker stays unknown (a wrong
# name costs more than a missing one: it reaches the training data)
CONFIDENCE = {
    "before": 0.9,
    "after": 0.9,
    "intro": 0.8,
    "before-new": 0.75,
    "after-new": 0.75,
    "continue": 0.75,
    "epithet": 0.7,
    "turn": 0.7,
    "turn-pair": 0.6,
    "turn-skip": 0.6,
    "turn-count": 0.65,
    "ask": 0.7,
    "vocative": 0.7,
    "action": 0.7,
    "action-far": 0.3,
    "action-after": 0.65,
    "zero": 0.3,
    "zero-same": 0.3,
    "zero-far": 0.3,
    "unknown": 0.0,
}
NAMING_BAR = 0.6


# a verb in the past right after a name (English): -ed, or one of the common irregular ones
_PAST = re.compile(
    r"\s+(?:\w+ly\s+)?(?:[a-z]+ed|ran|went|came|sat|stood|took|gave|made|held|shook|threw|began|"
    r"put|got|kept|left|felt|saw|knew|caught|drew|rose|fell|hid|flew|led|bent|laid|lay|struck|"
    r"swung|sprang|broke|bit|wrote|spoke|said|sang|stole|swept|slid|stuck|tore|wept|won)\b"
)

# a bare cue of a question-and-answer run (问：“…”答：“…”), Chinese
_ASK = re.compile(r"(?:又|再|复|便|因)?问(?:道|说|曰)?")
_ANSWER = re.compile(r"(?:又|便|因)?(?:答|回|禀)(?:称|道|说|曰)?")


@dataclass
class Attribution:
    """How one quote got its speaker; the LLM pass and the accuracy bench read these."""

    utterance: Utterance
    paragraph: int
    method: str
    raw: str | None = None
    confidence: float = 0.0
    guess: str | None = None  # the rule's speaker when too unsure to name (below the bar)
    rule: str = ""  # the rule that answered, also when too unsure (``method`` is then unknown)


@dataclass
class _State:
    recent: list[str] = field(default_factory=list)
    narrated: list[str] = field(default_factory=list)  # named in narration since the last speech
    tail: list[str] = field(default_factory=list)  # named after the last speech's last quote
    turns: list[str | None] = field(default_factory=list)
    last_dialogue_paragraph: int = -10
    open_speaker: str | None = None  # speaker of a quote left open at the end of the last paragraph
    chain: list[tuple[str | None, frozenset[str]]] = field(default_factory=list)  # see _count_turns
    asked: set[str] = field(default_factory=set)  # people named in the last paragraph's speech
    called: set[str] = field(default_factory=set)  # people it spoke to by name (“…, Lizzy?”)


class Speakers(Turns):
    """Mixin of :class:`studio_prose.parser.ProseDocument`: the state it reads is set there."""

    def _attribute(
        self, before: str, after: str, in_paragraph: str | None, starts: bool, index: int
    ) -> tuple[str | None, str]:
        rules = self.rules
        found = rules.preposed(before, self.pattern) if before else None
        if found is not None and found[0] is not None:
            return found[0], found[1]
        post = rules.postposed(after, self.pattern) if after else None
        if post is not None:
            return post, "after"
        tag = rules_zh.unread_tag(after) if self.zh and after and found is None else None
        if tag is not None:  # “…”老头子和气的问: someone's turn, though not a name to give
            return UNREAD + tag, "tag-unread"
        if not self.zh and found is None and after:
            kin = rules_en.epithet(after)
            if kin is not None:  # said her mother: a relation, resolved only with evidence
                return self._kin(*kin), "epithet"
        if (
            found is not None
        ):  # an introduction without a subject (又道：): who spoke or acted last here
            intro = _last_sentence(before.rstrip("：:，, 　"), self.style.lang)
            if self.zh and _ASK.fullmatch(intro) and self._asker:
                return self._asker, "ask"  # 白公问道：“…”答：“…”问：“…”: the questioner again
            if self.zh and _ANSWER.fullmatch(intro):
                return None, "unknown"  # 答称：: the one questioned, not the questioner
            if in_paragraph:
                return in_paragraph, "zero-same"
            earlier = self._paragraph_subject(before)  # 顿一顿又道： continues the topic
            if earlier is None:
                return None, "unknown"
            return earlier, "zero" if len(intro) <= 8 else "zero-far"
        if in_paragraph:
            return in_paragraph, "continue"
        state = self._state
        if starts and state.open_speaker:  # a speech over paragraphs: each reopens, one closes
            return state.open_speaker, "continue"
        if before.strip():
            sentence = _last_sentence(before, self.style.lang)
            who = self._nearest(sentence) if sentence else None
            if who is not None:
                # 眉庄握住我的手。“…”: a short beat led by its subject, right before the quote
                ends = " 　。.!！?？"
                short = len(sentence) <= (24 if self.zh else 90)
                close = before.strip(ends) == sentence.strip(ends) and short
                led = sentence.lstrip(" 　").startswith(who)
                return who, "action" if close and led else "action-far"
        beat = self._beat_after(after) if starts and after else None
        if beat is not None:
            return beat, "action-after"
        answer = self._answer(index) if starts else None
        if answer is not None:
            return answer, "vocative"
        if starts and index - state.last_dialogue_paragraph <= 2 and state.turns:
            other, how = self._turn_taker(index - state.last_dialogue_paragraph == 1)
            addressee = self._addressee()
            if other is not None and addressee is not None and self._canonical(addressee) == other:
                return None, "unknown"  # “Lizzy, …” is said to Lizzy, not by her
            if other is None and self._bare:
                other, how = self._count_turns()
            if other is not None:
                return other, how
        return None, "unknown"

    def _judge(self, raw: str | None, method: str) -> tuple[Any, ...]:
        """From a rule's answer to the speaker the utterance gets: pronouns resolved, aliases,
        titles and roles read, the rule's confidence (less for a pronoun not sure of its person),
        and below ``NAMING_BAR`` no speaker but a guess.

        Returns:
            ``(speaker, method, raw, confidence, guess, rule, unread)``: ``rule`` is the rule that
            answered, also when too unsure (``method`` is then unknown); ``unread`` the turn mark
            of a tag that names someone outside the cast.
        """
        speaker = self._resolve(raw)
        unread = speaker if speaker and speaker.startswith(UNREAD) else None
        if unread:  # someone's turn, never a speaker to give
            speaker, raw, method = None, None, "unknown"
        if self.zh and raw and raw not in self.names and words_zh.verb_phrase(raw):
            speaker, raw, method = None, None, "unknown"  # 拉着公子道: an action, not a name
        speaker = self.same[speaker][0] if speaker in self.same else speaker
        if speaker and not self.zh and speaker not in self.names:
            speaker = self._untitled(speaker)
        fresh = raw and raw not in self.names and raw not in self.rules.PRONOUNS
        if fresh and method == "after" and self.zh:
            method = "after-new"  # a name first seen in this tag
        if method.endswith("-new") and raw and raw not in self.roles:
            known, meaning = cast_zh.role(raw, self.names, self._view, rules_zh.gender_of_title)
            if known:
                self.roles[raw] = meaning
        if speaker is not None and speaker in self.roles:
            speaker = self.roles[speaker]
            method = method if speaker is not None else f"{method}-role"
        named_nobody = method == "unknown" or "-role" in method
        if speaker is None and raw is not None and not named_nobody:
            method = f"{method}-unresolved"
        confidence = CONFIDENCE.get(method, 0.0) if speaker is not None else 0.0
        if raw in self.rules.PRONOUNS and raw != self.first_person:
            # she → the woman of this paragraph or exchange; 他 for everyone, or a person of
            # unknown gender, or one from further back, is a guess among many
            confidence *= 0.9 if self._pronoun_sure else 0.6
        guess, rule = None, method
        if speaker is not None and confidence < NAMING_BAR:
            guess, speaker, method = speaker, None, "unknown"
        return speaker, method, raw, confidence, guess, rule, unread

    def _beat_after(self, after: str) -> str | None:
        """``“…”  And Beth ran to hug her sister``: a paragraph that opens with the quote and goes
        on with a short beat led by a person named in it; that person is the likely speaker."""
        lang = self.style.lang
        text = _flatten(after, lang).lstrip(" 　")
        if not text or text[0] in ",，:：—-":
            return None  # a comma or dash after the quote ties it to a tag, not a new sentence
        sentence = _first_sentence(text, lang)
        lead = sentence if self.zh else re.sub(r"^(?:and|And|then|Then|but|But)\s+", "", sentence)
        match = self.pattern.match(lead)
        if match is None or match.group() in self.rules.PRONOUNS:
            return None
        if self.zh and (match.group() in rules_zh._PLURALS or cast_zh.group(match.group())):
            return None  # “…”他们并不怕: a group speaks as nobody
        if self.zh and "听" in re.split("[，,；;]", lead)[0]:
            return None  # “…”老栓也似乎听得有人问他: the one who hears it
        if not self.zh and not _PAST.match(lead[match.end() :]):
            return None  # a past tense right after the name (Mrs. March smoothed…, Beth ran…)
        return match.group()

    def _answer(self, index: int) -> str | None:
        """“When is your next ball to be, Lizzy?” ⏎ “To-morrow fortnight.”: a paragraph of speech
        alone right after one that spoke to one person by name is that person's answer."""
        state = self._state
        if not self._bare or index - state.last_dialogue_paragraph != 1 or len(state.called) != 1:
            return None
        (called,) = state.called
        last = state.turns[-1] if state.turns else None
        if last is None or called == last or called == (self.narrator or self.first_person):
            return None
        own = self._addressee()  # “Lizzy, …” in return is said to Lizzy, not by her
        if own is not None and self._canonical(own) == called:
            return None
        return called

    def _nearest(self, sentence: str) -> str | None:
        if self.style.lang == "zh":
            return rules_zh.nearest_subject(sentence, self.pattern)
        return self.rules.subject(sentence, self.pattern)

    def _paragraph_subject(self, before: str) -> str | None:
        """The subject of the latest earlier sentence of the paragraph that has one."""
        splitter = (
            rules_zh._SENTENCE_SPLIT
            if self.style.lang == "zh"
            else re.compile(rf"{rules_en.SENTENCE_END}|(?<=;)\s+")
        )
        sentences = [s for s in splitter.split(before.rstrip("：:，, 　")) if s.strip()]
        for sentence in reversed(sentences[:-1]):
            who = self._nearest(sentence)
            if who is not None:
                return who
        return None

    def _note_subjects(self, text: str) -> None:
        """Names mentioned in narration become the likeliest referents of later pronouns."""
        for match in self.pattern.finditer(text):
            word = match.group()
            if word in self.rules.PRONOUNS or word in rules_zh._PLURALS:
                continue
            if self.zh and cast_zh.group(word):
                continue
            if word in self.roles:
                meaning = self.roles[word]
                if meaning is None:
                    continue  # 有人 / 那掌柜: nobody a pronoun can point back to
                word = meaning
            word = self.same[word][0] if word in self.same else word
            self._remember(word)
            self._para_mentions.append(word)


def _flatten(text: str, lang: str) -> str:
    if "\n" not in text:
        return text
    return ("" if lang == "zh" else " ").join(line.strip() for line in text.split("\n"))


def _sentences(text: str, lang: str) -> list[str]:
    if lang == "zh":
        return [p for p in rules_zh._SENTENCE_SPLIT.split(text.strip(" 　")) if p.strip()]
    return [p for p in re.split(rules_en.SENTENCE_END, " ".join(text.split())) if p.strip()]


def _first_sentence(text: str, lang: str) -> str:
    parts = _sentences(text, lang)
    return parts[0] if parts else ""


def _last_sentence(text: str, lang: str) -> str:
    parts = _sentences(text, lang)
    return parts[-1] if parts else ""
