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

from studio.api import (
    ChoiceOption,
    FloatOption,
    IntOption,
    ParseContext,
    ParseResult,
    ParseWarning,
    PathOption,
    SourceText,
    StrOption,
    Utterance,
)
from studio_prose import quotes, rules_en, rules_zh

_SNIFF_CHARS = 80_000
_MAX_QUOTES = 200_000  # quote marks in one paragraph; a whole novel on one line has a few tens of thousands


@dataclass
class Attribution:
    """How one quote got its speaker; the LLM pass and the accuracy bench read these."""

    utterance: Utterance
    paragraph: int
    method: str
    raw: str | None = None


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
    extensions = (".txt",)
    """File extensions this parser reads: a new workspace's ``[corpus] files`` globs these."""
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

    def parse(self, source: SourceText, options: Mapping[str, Any],
              context: ParseContext | None = None) -> ParseResult:
        """Parse a novel; with ``llm`` set, unknown speakers get a second opinion from the host's model."""
        document = ProseDocument(source, options)
        document.run()
        if options.get("llm", "off") != "off":
            from studio_prose.llm import resolve_with_llm

            resolve_with_llm(document, options, context.llm if context is not None else None)
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
        text = source.text
        # a short text says each name only a few times: learn from fewer sightings
        min_count = 1 if len(text) < 50_000 else 2 if len(text) < 500_000 else 3
        self.names = self.rules.learn_names(text, extra, min_count=min_count)
        if self.narrator:
            self.names.add(self.narrator)
        self.pattern = self.rules.mention_pattern(self.names)
        self.genders = self.rules.infer_genders(text, self.pattern, self.names)
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

    # -- the pass --------------------------------------------------------------------------

    def run(self) -> None:
        for kind, para in quotes.paragraphs(self.source.text):
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
                self._note_subjects(seg.text)
                continue
            before = items[position - 1][1].text if position and items[position - 1][0] == "text" else ""
            after = items[position + 1][1].text if position + 1 < len(items) and items[position + 1][0] == "text" else ""
            raw, method = self._attribute(before, after, in_paragraph, position == 0 and starts_with_quote, index)
            speaker = self._resolve(raw)
            if speaker is None and raw is not None and method != "unknown":
                method = f"{method}-unresolved"
            utt = Utterance(speaker, _flatten(seg.text, self.style.lang).strip(), "dialogue", self._scene, self.file,
                            para.line_at(seg.start))
            self.utterances.append(utt)
            self.attributions.append(Attribution(utt, index, method, raw))
            if speaker:
                in_paragraph = speaker
                self._remember(speaker)
            had_speech = True
            if not seg.closed:
                self.warnings.append(ParseWarning(self.file, para.line_at(seg.start),
                                                  "quote not closed in its paragraph; taken to run to the paragraph end"))
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
                return in_paragraph, "zero"
            intro = _last_sentence(before.rstrip("：:，, 　"), self.style.lang)
            earlier = self._paragraph_subject(before) if len(intro) <= 8 else None  # 顿一顿又道： continues
            return (earlier, "zero") if earlier else (None, "unknown")
        if in_paragraph:
            return in_paragraph, "continue"
        state = self._state
        if starts and state.open_speaker and self.style.lang == "en":
            return state.open_speaker, "continue"
        if before.strip():
            sentence = _last_sentence(before, self.style.lang)
            who = self._nearest(sentence) if sentence else None
            if who is not None:
                return who, "action"
        if starts and index - state.last_dialogue_paragraph <= 2 and state.turns:
            other = self._turn_taker()
            if other is not None:
                return other, "turn"
        return None, "unknown"

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

    def _turn_taker(self) -> str | None:
        turns = self._state.turns
        last = turns[-1]
        if last is None:
            return None
        for earlier in reversed(turns[:-1]):
            if earlier is not None and earlier != last:
                return earlier
            if earlier is None:
                return None
        return None

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
        for pool in (reversed(self._para_mentions), partners, reversed(state.recent[-8:])):
            found = self._pick(pool, gender, narrator)
            if found is not None:
                return found
        return None

    def _pick(self, pool: Any, gender: str, narrator: str) -> str | None:
        """The first name of ``pool`` of ``gender`` (or, failing that, of unknown gender)."""
        unknown = None
        for name in pool:
            if name == narrator or name in self.rules.PRONOUNS:
                continue
            known = self.genders.get(name) or self.rules.gender_of_title(name)
            if not gender or known == gender:
                return name
            if known is None and unknown is None:
                unknown = name
        return unknown

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
            if word in self.rules.PRONOUNS or word in rules_zh._PLURALS:
                continue
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
