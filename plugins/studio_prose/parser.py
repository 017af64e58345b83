"""Provides ProseParser: quoted speech in novels, attributed to speakers by rules.

Names first: the cast of the whole book is found before any quote is attributed (see
:mod:`studio_prose.rules_zh` / :mod:`studio_prose.rules_en`: words before speech verbs and colons,
name shapes, jieba's person tags for Chinese, titles; :mod:`studio_prose.cast_zh`: group words,
roles and titles that stand for nobody or for the one person who bears them;
:mod:`studio_prose.cast`: short and long forms of one name merged with the evidence kept in
``same``). Traditional text is read through a Simplified view and names are shown as written.

For every speech quote, in order (the first rule that answers wins):

1. ``before``: the narration just before introduces it, with any colon (：:∶﹕), a comma or none
   (``眉庄笑道：“…”``, ``他说，“…”``, ``道“…”``, ``Mrs. Bennet cried, “…”``), also at the end of
   the paragraph above; ``intro``: ``she said very humbly,``; ``before-new``: a person-shaped word
   right before the verb that is not in the cast yet;
2. ``after``: a tag right after the quote (``“…”眉庄笑道。``, ``“…”阿Ｑ指着他，分辩说。``,
   ``“…,” said poor Jo``); the speaker, never the addressee (``X对Y说``, ``X问Y道``);
3. ``continue``: an earlier quote of the same paragraph has a speaker, or a speech runs on from
   the previous paragraph (its quote left open: Chinese reopens “ each paragraph);
4. ``action``: a short beat led by its subject right before the quote (``眉庄握住我的手。“…”``);
   ``action-after``: a beat led by a name right after a quote that opens its paragraph
   (``“I knew it!”  And Beth ran to hug her sister``), never a listener (``…听得有人问他``);
5. ``vocative``: a paragraph of speech alone right after one that spoke to one person by name
   is that person's answer; ``turn``: a paragraph that is only a quote, in an exchange of two,
   goes to the other one (see :mod:`studio_prose.turns`);
6. otherwise the speaker stays unknown (None), for the user or the optional LLM pass.

After the pass, ``turn-fill``: in a run of dialogue paragraphs where exactly two people take
strict turns, a paragraph of speech alone takes the turn its place gives.

Every attribution carries its rule and a confidence (``CONFIDENCE``, measured on hand-labelled
novels by ``bench/prose_accuracy.py``); below ``NAMING_BAR`` the speaker stays unknown and the
rule's answer is kept as ``guess``: a wrong name costs more than a missing one. Group words
(众人), storyteller asides (看官, 列公) and roles (掌柜, 船家) name nobody.

Pronouns resolve as :mod:`studio_prose.referents` says; 我/I is the narrator named by the
``narrator`` option (kept as 我/I when none is set). Names come from the text, plus ``names``.

Chapters (``第一章``, ``第一回``, ``CHAPTER II.``) are scenes; ``* * *`` breaks start a new scene
inside a chapter; a preface before the first chapter is narration, never a scene of speech.
Narration between quotes is kept as ``narration`` context. An optional LLM pass (off by default)
re-attributes the quotes the rules leave unknown; see :mod:`studio_prose.llm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import (
    ParseContext,
    ParseResult,
    ParseWarning,
    SourceText,
    StrOption,
    Utterance,
)
from studio_prose import cast, cast_zh, quotes, rules_en, rules_zh
from studio_prose.layout import wrapped as layout_wrapped
from studio_prose.llm import OPTIONS, resolve_with_llm
from studio_prose.speakers import Attribution, Speakers, _flatten, _State
from studio_prose.turns import UNREAD

_SNIFF_CHARS = 80_000
_MAX_QUOTES = (
    200_000  # quote marks in one paragraph; a whole novel on one line has a few tens of thousands
)


# Project Gutenberg's plain text marks italics as _word_: the words were said, the marks were not
_EMPHASIS = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])")


def _plain(text: str, lang: str) -> str:
    """An utterance's text: one line, its emphasis marks dropped."""
    flat = _flatten(text, lang).strip()
    return _EMPHASIS.sub(r"\1", flat) if "_" in flat else flat


class ProseParser:
    """Novels into narration and attributed speech (see the module docstring)."""

    name = "prose"
    description = (
        'Novels: quotes (“…” 「…」 "…" ‘…’) with speakers by rules '
        "(X道：“…” / “…”X说 / said X), optional LLM"
    )
    extensions = (".txt",)
    """File extensions this parser reads: a new workspace's ``[corpus] files`` globs these."""
    options = (
        StrOption("narrator", "", "Name of the first-person narrator (我 / I); empty keeps 我 / I"),
        StrOption(
            "names", "", "Extra character names, comma-separated (studio.toml aliases are added)"
        ),
        *OPTIONS,
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
                if seg.kind == "quote" and quotes.looks_like_speech(
                    seg.text, before, style.lang, closed=seg.closed
                ):
                    speech += 1
                    break
                before = seg.text if seg.kind == "text" else before
        share = speech / len(paras)
        long_paras = sum(1 for p in paras if len(p.text) > 60) / len(paras)
        return round(min(0.9, 0.2 + 1.2 * share + 0.2 * long_paras), 3)

    def parse(
        self, source: SourceText, options: Mapping[str, Any], context: ParseContext | None = None
    ) -> ParseResult:
        """Parse a novel.

        With ``llm`` set, unknown speakers get a second opinion from the host's model.
        """
        document = ProseDocument(source, options)
        document.run()
        if options.get("llm", "off") != "off":
            resolve_with_llm(document, options, context.llm if context is not None else None)
        return ParseResult(self.name, source, document.utterances, document.warnings)


class ProseDocument(Speakers):
    """One pass over a novel's paragraphs; ``attributions`` says how each quote got its speaker."""

    def __init__(self, source: SourceText, options: Mapping[str, Any]) -> None:
        self.source = source
        self.file = source.name
        self.narrator = str(options.get("narrator") or "")
        extra = [
            n.strip() for n in re.split(r"[,，、;；]", str(options.get("names") or "")) if n.strip()
        ]
        self.style = quotes.detect_style(source.text)
        self.rules = rules_zh if self.style.lang == "zh" else rules_en
        self.zh = self.style.lang == "zh"
        text = cast_zh.simplified(source.text) if self.zh else source.text
        if self.zh:
            extra = [cast_zh.simplified(n) for n in extra]
        # a short text says each name only a few times: learn from fewer sightings
        min_count = 1 if len(text) < 50_000 else 2 if len(text) < 500_000 else 3
        wrapped = self.zh and layout_wrapped(text.split("\n", 4000)[:4000])
        # 九斤⏎老太: a name broken by a wrapped line
        joined = re.sub(r"(?<=\S)\n(?=\S)", "", text) if wrapped else text
        self.names = self.rules.learn_names(joined, extra, min_count=min_count)
        if self.narrator:
            self.names.add(self.narrator)
        self.pattern = self.rules.mention_pattern(self.names)
        self.genders = self.rules.infer_genders(text, self.pattern, self.names)
        self._view = text
        # alias → (canonical, evidence)
        self.same = cast.same_people(
            self.names, text, self.style.lang, self.rules.gender_of_title, self.genders
        )
        self.roles = cast_zh.roles(self.names, text, rules_zh.gender_of_title) if self.zh else {}
        traditional = self.zh and text != source.text
        self.display = cast.spellings(source.text, text, self.pattern) if traditional else {}
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
        self._runs: list[list[tuple[int, str | None, frozenset[str], bool]]] = [[]]
        self._opening = False  # the quote opens a paragraph right after another speech
        self._quote_text = ""  # the quote being attributed (for the name it is said to)
        self._intro_above = ""  # narration ending the last paragraph with a colon
        self._from_above = False  # the quote being attributed is introduced by it
        self._intro_index = -1

    # -- the pass --------------------------------------------------------------------------

    def run(self) -> None:
        paragraphs = quotes.paragraphs(self.source.text)
        front = cast.front_matter(paragraphs)
        for position, (kind, para) in enumerate(paragraphs):
            if position < front:  # a preface or contents: narration, never a scene of speech
                if kind != "break":
                    text = _plain(para.text, self.style.lang)
                    self.utterances.append(
                        Utterance(None, text, "narration", "front", self.file, para.line)
                    )
                continue
            if kind == "chapter":
                self._new_chapter(para)
                continue
            if kind == "caption":  # an illustration's words: not speech, not a turn
                text = _plain(para.text, self.style.lang)
                self.utterances.append(
                    Utterance(None, text, "narration", self._scene, self.file, para.line)
                )
                continue
            if kind == "break":
                self._breaks += 1
                self._scene = f"{self._chapter}#{self._breaks + 1}"
                self._state = _State(recent=self._state.recent[-4:])
                continue
            self.paragraphs.append(para)
            self._paragraph(para, len(self.paragraphs) - 1)
        self._fill_runs()

    def _new_chapter(self, para: quotes.Paragraph) -> None:
        title = " ".join(para.text.replace("　", " ").split())
        if title.endswith("]") and "[" not in title:  # the last line of an illustration's caption
            title = title[:-1].rstrip()
        count = self._seen.get(title, 0) + 1
        self._seen[title] = count
        self._chapter = title if count == 1 else f"{title}#{count}"
        self._scene = self._chapter
        self._breaks = 0
        self._state = _State()
        self.utterances.append(Utterance(None, title, "scene", self._scene, self.file, para.line))

    def _paragraph(self, para: quotes.Paragraph, index: int) -> None:
        marks = sum(para.text.count(mark) for mark in self.style.opens)
        if (
            marks > _MAX_QUOTES
        ):  # not prose: millions of tiny quotes would take gigabytes as utterances
            self.warnings.append(
                ParseWarning(
                    self.file,
                    para.line,
                    f"a paragraph with {marks:,} quote marks; kept "
                    f"as narration (expected at most {_MAX_QUOTES:,})",
                )
            )
            self.utterances.append(
                Utterance(None, para.text, "narration", self._scene, self.file, para.line)
            )
            return
        segments = quotes.split_quotes(para.text, self.style)
        items: list[tuple[str, quotes.Segment]] = []
        narration: list[quotes.Segment] = []
        for seg in segments:
            if seg.kind == "quote" and quotes.looks_like_speech(
                seg.text, _tail(narration), self.style.lang, closed=seg.closed
            ):
                if narration:
                    items.append(("text", _merge(narration)))
                    narration = []
                items.append(("quote", seg))
            else:
                narration.append(
                    seg
                    if seg.kind == "text"
                    else quotes.Segment("text", para.text[seg.start : seg.end], seg.start, seg.end)
                )
        if narration:
            items.append(("text", _merge(narration)))
        view = cast_zh.simplified(para.text) if self.zh else para.text
        state = self._state
        self._para_mentions: list[str] = []
        self._asker: str | None = None
        in_paragraph: str | None = None
        starts_with_quote = bool(items) and items[0][0] == "quote"
        had_speech = False
        spoken: dict[str | None, None] = {}  # this paragraph's speakers, the last to speak last
        asked: list[str] = []
        called: list[str] = []
        tail_from = 0
        # a paragraph of speech alone, no narration: the only kind turn counting answers for
        self._bare = all(
            kind == "quote" or not seg.text.strip(" 　\n,.，。") for kind, seg in items
        )
        for position, (kind, seg) in enumerate(items):
            if kind == "text":
                text = _plain(seg.text, self.style.lang)
                if text.strip("，。、,.;；:： 　"):
                    self.utterances.append(
                        Utterance(
                            None, text, "narration", self._scene, self.file, para.line_at(seg.start)
                        )
                    )
                tail_from = len(self._para_mentions)
                self._note_subjects(_flatten(view[seg.start : seg.end], self.style.lang))
                continue
            prev = items[position - 1][1] if position and items[position - 1][0] == "text" else None
            following = position + 1 < len(items) and items[position + 1][0] == "text"
            nxt = items[position + 1][1] if following else None
            before = _flatten(view[prev.start : prev.end], self.style.lang) if prev else ""
            opens = position == 0 and starts_with_quote
            above = opens and bool(self._intro_above) and index == self._intro_index + 1
            if above:
                before = self._intro_above  # 九斤老太…说：⏎“…”: introduced above
            self._from_above = above
            after = _flatten(view[nxt.start : nxt.end], self.style.lang) if nxt else ""
            self._opening = opens and index - state.last_dialogue_paragraph == 1
            self._quote_text = view[seg.start + 1 : seg.end - 1 if seg.closed else seg.end]
            raw, method = self._attribute(
                before, after, in_paragraph, position == 0 and starts_with_quote, index
            )
            speaker, method, raw, confidence, guess, rule, unread = self._judge(raw, method)
            said = _plain(seg.text, self.style.lang)
            shown = self.display.get(speaker, speaker) if speaker else None
            sure = round(confidence, 2) if shown else None  # checked below LOW_CONFIDENCE
            line = para.line_at(seg.start)
            utt = Utterance(
                shown,
                said,
                "dialogue",
                self._scene,
                self.file,
                line,
                method=method if shown else None,
                confidence=sure,
            )
            self.utterances.append(utt)
            shown = self.display.get(guess, guess) if guess else None
            self.attributions.append(Attribution(utt, index, method, raw, confidence, shown, rule))
            if speaker and self.zh and "问" in before[-8:]:
                self._asker = speaker  # who asks in this paragraph's questions and answers
            if speaker:
                in_paragraph = speaker
                self._remember(speaker)
                self._para_mentions.append(speaker)  # whom a later he/she most likely means
            had_speech = True
            counted = rule == "turn-count"  # later counts start from the last tag, not from this
            who = unread or (None if counted else speaker)
            spoken.pop(who, None)
            spoken[who] = None
            asked += self.pattern.findall(self._quote_text)
            if (called_by_name := self._addressee()) is not None:
                called.append(called_by_name)
            if not seg.closed:
                self.warnings.append(
                    ParseWarning(
                        self.file,
                        para.line_at(seg.start),
                        "quote not closed in its paragraph; taken to run to the paragraph end",
                    )
                )
        last = items[-1] if items else None
        tail = ""
        if last and last[0] == "text":
            tail = _flatten(view[last[1].start : last[1].end], self.style.lang).rstrip()
        # 九斤老太…说：⏎“…” / turning to Elizabeth, said,--⏎“…”: the speech opens the next paragraph
        self._intro_above = tail if tail.endswith(_INTRO_ENDS) else ""
        self._intro_index = index
        state.open_speaker = (
            in_paragraph if items and items[-1][0] == "quote" and not items[-1][1].closed else None
        )
        self._note_turn(index, spoken if had_speech else None)
        if had_speech:
            state.narrated = []
            state.tail = self._para_mentions[tail_from:] if tail else []
            state.asked = {self._canonical(n) for n in asked if n not in self.rules.PRONOUNS}
            state.called = {self._canonical(n) for n in called}
            if index - state.last_dialogue_paragraph > 3:
                state.turns = []
            marks = [s for s in spoken if s and s.startswith(UNREAD)]
            turn = in_paragraph or (marks[0] if len(spoken) == 1 and marks else None)
            state.turns.append(None if None in spoken and len(spoken) == 1 else turn)
            state.last_dialogue_paragraph = index
        else:
            state.narrated += self._para_mentions
            if not self.zh and items and index - state.last_dialogue_paragraph == 1:
                # “Do you know who has taken it?” ⏎ Mr. Bennet replied that he had not. ⏎ …: a
                # turn told, not quoted, keeps the exchange going
                who = rules_en.reported(_flatten(items[0][1].text, "en"), self.pattern)
                if who is not None and who not in self.rules.PRONOUNS:
                    state.turns.append(self._canonical(who))
                    state.last_dialogue_paragraph = index


_INTRO_ENDS = ("：", ":", "∶", "﹕", ",--", ":--", "—", ",—")


def _tail(narration: list[quotes.Segment]) -> str:
    """The narration just before a quote, up to its last visible character.

    That is all the speech test reads; joining every earlier piece for each quote
    would be quadratic in a paragraph of many quotes.
    """
    for piece in reversed(narration):
        if piece.text.strip():
            return piece.text
    return ""


def _merge(parts: list[quotes.Segment]) -> quotes.Segment:
    return quotes.Segment("text", "".join(p.text for p in parts), parts[0].start, parts[-1].end)
