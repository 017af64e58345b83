"""Provides a persona card drafted from the corpus: what the text shows of how she speaks.

``draft_card`` reads the utterances (after the user's speaker fixes and alias merges) and
gathers, each point with the lines it came from:

- who she speaks with most (the speaker of the line before hers, and of the line after), and
  what she calls them: words of address at the start or end of her lines (皇上，… / …, Romeo.);
- how she refers to herself (本宫, 臣妾, 我 … — Chinese self-reference words by share of her
  lines against everyone else's);
- her distinctive words and sentence endings against the other speakers (log-odds with an
  informative prior, so rare words do not win by chance);
- her typical reply length (median characters for Chinese, words otherwise);
- facts that others state about her (sentences of other people's lines and of the narration
  that name her with a copula or a family/rank word).

The draft card is written in the corpus's language, in the second person, as the studio's
system prompt expects. The user edits it; ``[character] persona`` in studio.toml stays the one
system prompt at training and at chat time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from studio.api import Utterance
from studio.dataset import card_evidence as evidence
from studio.dataset.card_evidence import Point, is_zh
from studio.dataset.card_words import (
    SAID_OF_YOU,
    SPEAKS_WITH,
    YOU_CALL,
    YOU_CALL_YOURSELF,
    YOUR_LENGTH,
    YOUR_WORDS,
)


@dataclass
class CardDraft:
    """A persona card drafted from the corpus.

    Attributes:
        character: the character's canonical name.
        language: ``zh`` or ``en``.
        card: the draft system prompt, second person, in the corpus's language.
        lines: how many lines of hers it was drawn from.
        sections: observations by section (partners, address, self, words, endings, length,
            facts), each point with its sources.
    """

    character: str
    language: str
    card: str
    lines: int
    sections: dict[str, list[Point]]

    def to_markdown(self) -> str:
        """The draft and its evidence, for the user to read and edit."""
        titles = {
            "partners": "Speaks with most",
            "address": "What she calls them",
            "self": "How she refers to herself",
            "words": "Distinctive words",
            "endings": "Sentence endings",
            "length": "Reply length",
            "facts": "Said about her",
        }
        out = [
            f"# Persona card draft: {self.character}",
            "",
            f"Drawn from {self.lines} of {self.character}'s lines. Edit it, then put it in "
            "studio.toml as `[character] persona` (or run `persona-studio card WS --apply`).",
            "",
            "```",
            self.card,
            "```",
            "",
        ]
        for key, title in titles.items():
            points = self.sections.get(key) or []
            if not points:
                continue
            out.append(f"## {title}")
            for point in points:
                where = f" — {', '.join(point.sources)}" if point.sources else ""
                count = f" ({point.count})" if point.count else ""
                out.append(f"- {point.text}{count}{where}")
            out.append("")
        return "\n".join(out)


def draft_card(
    utterances: Sequence[Utterance], character: str, aliases: Mapping[str, str] | None = None
) -> CardDraft:
    """Draft a persona card for ``character`` from a corpus.

    Args:
        utterances: the corpus, in order, after the user's speaker fixes.
        character: the character's canonical name.
        aliases: speaker name → canonical name (the roster's merges).

    Raises:
        ValueError: the character has no lines in these utterances.
    """
    aliases = aliases or {}

    def who(u: Utterance) -> str | None:
        return aliases.get(u.speaker, u.speaker) if u.speaker else None

    dialogue = [u for u in utterances if u.kind == "dialogue" and u.text.strip()]
    hers = [i for i, u in enumerate(dialogue) if who(u) == character]
    if not hers:
        raise ValueError(f"{character!r} has no lines in this corpus")
    zh = is_zh([dialogue[i].text for i in hers])
    names = {character, *(k for k, v in aliases.items() if v == character)}
    sections = {
        "partners": evidence.partners(dialogue, hers, who, character),
        "address": evidence.address(dialogue, hers, who, zh, evidence.people(utterances, who)),
        "self": evidence.self_reference(dialogue, hers, who, character) if zh else [],
        "words": evidence.distinctive(dialogue, hers, who, character, zh),
        "endings": evidence.endings(dialogue, hers, who, character) if zh else [],
        "length": evidence.length(dialogue, hers, zh),
        "facts": evidence.facts(utterances, who, character, names, zh),
    }
    card = _compose(character, zh, sections)
    return CardDraft(character, "zh" if zh else "en", card, len(hers), sections)


def _calls(points: list[Point]) -> list[tuple[str, str]]:
    """Up to three ``(form, person)`` pairs worth a line of the card: a word of address that is
    not the person's own name (槿汐 called 槿汐 says nothing) and not a phrase around an earlier
    word (谢皇上 holds 皇上)."""
    pairs: list[tuple[str, str]] = []
    seen: list[str] = []
    for point in points:
        form, _, person = point.text.partition(" → ")
        bare = form.strip("「」“”")
        known = any(person == who for _, who in pairs)  # one form a person: the most frequent
        if (
            person
            and not known
            and bare.lower() != person.lower()
            and not any(w in bare for w in seen)
        ):
            pairs.append((form, person))
        seen.append(bare)
    return pairs[:3]


def _compose(character: str, zh: bool, sections: dict[str, list[Point]]) -> str:
    def plain(point: Point) -> str:
        return point.text.split(" ", 1)[0].strip("「」“”…")

    partners = [p.text for p in sections["partners"][:3]]
    address = _calls(sections["address"])
    selves = [plain(p) for p in sections["self"][:2]]
    words = [plain(p) for p in sections["words"][:6]]
    length = sections["length"][0].text.split()[1] if sections["length"] else ""
    facts = [p.text for p in sections["facts"][:3]]
    if zh:
        parts = [f"你是{character}。"]
        if facts:
            stop = "" if facts[-1].endswith(("。", "！", "？")) else "。"  # the sentence ends here
            parts.append(SAID_OF_YOU["zh"] + "".join(f"「{f}」" for f in facts) + stop)
        if partners:
            parts.append(f"{SPEAKS_WITH['zh']}{'、'.join(partners)}说话。")
        if address:
            parts.append(
                YOU_CALL["zh"] + "、".join(f"{who}为{form}" for form, who in address) + "。"
            )
        if selves:
            parts.append(f"{YOU_CALL_YOURSELF['zh']}「{'」「'.join(selves)}」。")
        if words:
            parts.append(f"{YOUR_WORDS['zh']}「{'」「'.join(words)}」这样的字眼。")
        if length:
            parts.append(f"{YOUR_LENGTH['zh']}，一句话多在{length}字左右。")
        parts.append(f"请始终以{character}的身份和口吻回答。")
        return "".join(parts)
    parts = [f"You are {character}."]
    if facts:
        # one sentence, so that a card reader keeps the quotes together with their opening
        parts.append(SAID_OF_YOU["en"] + ", ".join(f"“{f}”" for f in facts) + ".")
    if partners:
        parts.append(f"{SPEAKS_WITH['en']}{', '.join(partners)}.")
    if address:
        parts.append(YOU_CALL["en"] + ", ".join(f"{who} {form}" for form, who in address) + ".")
    if words:
        parts.append(f"{YOUR_WORDS['en']}{', '.join(words)}.")
    if length:
        parts.append(f"{YOUR_LENGTH['en']}, about {length} words a line.")
    parts.append(f"Stay in character and answer as {character} would.")
    return " ".join(parts)
