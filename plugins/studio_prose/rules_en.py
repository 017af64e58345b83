"""Provides speaker attribution rules for English prose.

- post-posed: ``“…,” said Elizabeth`` / ``“…,” Elizabeth said`` / ``“…,” she replied``;
- pre-posed: ``Mrs. Bennet cried, “…”`` / ``He said: “…”``;
- names are learnt from those patterns across the whole text (``Mr. Darcy``, ``Elizabeth``);
- a name's gender (for he/she) comes from its title (Mr., Mrs., Miss, Lady, Sir …) or from the
  pronoun that most often follows it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from studio_prose.words_zh import trie_pattern

VERBS = (
    "said|says|say|replied|replies|cried|cries|asked|asks|answered|returned|observed|continued|added|"
    "exclaimed|whispered|shouted|called|began|remarked|rejoined|interrupted|resumed|repeated|murmured|"
    "muttered|declared|inquired|enquired|urged|pursued|protested|retorted|explained|insisted|sighed|"
    "laughed|faltered|stammered|thought|went on|persisted|agreed|admitted|warned|screamed|shrieked|"
    "demanded|suggested|answered|responded|snapped|growled|added|grumbled|sobbed|groaned|moaned|"
    "gasped|panted|wailed|chuckled|giggled|cried out|called out|broke in|struck in|put in|"
    "interposed|"
    "concluded|ventured|owned|confessed|observed|reasoned|hinted|implored|begged|pleaded|commanded|"
    "ordered|echoed|mused|reflected|scolded|sneered|teased|joked|corrected|announced|whimpered|"
    "blurted|bawled|roared|yelled|hissed|breathed|beamed|smiled|nodded"
)
_ADJ = r"(?:(?:poor|little|old|young|dear|good|wise|kind|honest)\s+)?"
_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Dr|Lady|Lord|Sir|Colonel|Col|Captain|Capt"
    r"|Madam|Madame|Mme|Mlle|Aunt|Uncle)\.?"
)
_NAME = rf"(?:{_TITLE}\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"
_WHO = rf"(?P<who>{_NAME}|he|she|I|He|She)"
_POST = re.compile(
    rf"^[\s,;—–-]*(?:(?:{VERBS})\s+{_ADJ}{_WHO}\b|(?P<who2>{_NAME}|he|she|I|He|She)\s+(?:\w+ly\s+)?(?:{VERBS})\b)"
)
_PRE = re.compile(
    rf"(?P<who>{_NAME}|he|she|I|He|She)\s+(?:\w+ly\s+)?(?:{VERBS})(?:\s+\w+ly)?\s*[,:—]?\s*$"
)
_PRE_INVERTED = re.compile(rf"(?:{VERBS})\s+(?P<who>{_NAME}|he|she|I)\s*[,:—]?\s*$")
_NOT_NAMES = {
    "The",
    "Then",
    "And",
    "But",
    "She",
    "He",
    "It",
    "They",
    "We",
    "You",
    "This",
    "That",
    "There",
    "What",
    "When",
    "Where",
    "Why",
    "How",
    "Yes",
    "No",
    "Oh",
    "Well",
    "Now",
    "So",
    "If",
    "Her",
    "His",
    "Their",
    "One",
    "Nobody",
    "Everybody",
    "Somebody",
    "Some",
    "Another",
    "Every",
    "Each",
    "All",
    "Both",
    "Neither",
    "Do",
    "Did",
    "Does",
    "Is",
    "Was",
    "Are",
    "Were",
    "My",
    "Your",
    "Our",
    "Not",
    "Nor",
    "Or",
    "For",
    "Indeed",
    "Perhaps",
    "Upon",
    "After",
    "Before",
    "While",
    "As",
    "At",
    "In",
    "On",
    "Of",
    "To",
    "With",
    "Chapter",
    "CHAPTER",
    "Dear",
    "Good",
    "Pray",
    "Ah",
    "Nay",
    "Aye",
}
# a sentence ends at . ! ? and a space, except after a title (``Mr. Laurence gave her a look``)
SENTENCE_END = (
    r"(?<=[.!?])"
    + "".join(rf"(?<!\b{title}\.)" for title in ("Mr", "Mrs", "Ms", "Dr", "St", "Col", "Capt"))
    + r"\s+"
)
_SENTENCE_SPLIT = re.compile(rf"{SENTENCE_END}(?=[A-Z“\"‘])|\n\n")
_OBJECT_BEFORE = {
    "to",
    "at",
    "with",
    "of",
    "for",
    "by",
    "from",
    "on",
    "towards",
    "toward",
    "upon",
    "about",
    "her",
    "his",
    "their",
    "than",
    "like",
    "and",
}
_CLAUSE_OPENERS = {"what", "that", "whom", "which", "who", "whose", "whether", "how", "why"}
_FEMALE = ("Mrs", "Miss", "Ms", "Lady", "Madam", "Madame", "Mme", "Mlle", "Aunt")
_MALE = ("Mr", "Sir", "Lord", "Colonel", "Col", "Captain", "Capt", "Uncle")
PRONOUNS = {"I": "narrator", "he": "m", "He": "m", "she": "f", "She": "f"}


def _normal(name: str) -> str:
    return " ".join(name.split())


def learn_names(text: str, given: Iterable[str] = (), min_count: int = 2) -> set[str]:
    """Names that appear as the subject of a speech verb next to a quote at least twice."""
    counts: Counter[str] = Counter()
    for match in re.finditer(rf"[”\"’]\s*,?\s*(?:{VERBS})\s+(?P<who>{_NAME})\b", text):
        counts[_normal(match.group("who"))] += 1
    for match in re.finditer(rf"[”\"’]\s*,?\s*(?P<who>{_NAME})\s+(?:\w+ly\s+)?(?:{VERBS})\b", text):
        counts[_normal(match.group("who"))] += 1
    for match in re.finditer(
        rf"(?P<who>{_NAME})\s+(?:\w+ly\s+)?(?:{VERBS})\s*[,:]?\s*[“\"‘]", text
    ):
        counts[_normal(match.group("who"))] += 1
    names = {
        name
        for name, count in counts.items()
        if count >= min_count and name.split()[0] not in _NOT_NAMES
    }
    names.update(name for name in given if name)
    return names


def mention_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """Names (longest first) and singular pronouns as whole words."""
    return re.compile(r"(?<![A-Za-z])" + trie_pattern({*names, *PRONOUNS}) + r"(?![A-Za-z])")


def gender_of_title(name: str) -> str | None:
    """Gender implied by a title (Mrs. Bennet → f, Mr. Darcy → m)."""
    first = name.split()[0].rstrip(".")
    if first in _FEMALE:
        return "f"
    if first in _MALE:
        return "m"
    return None


def infer_genders(text: str, pattern: re.Pattern[str], names: Iterable[str]) -> dict[str, str]:
    """``f`` or ``m`` for names whose title or following pronouns say so."""
    genders = {name: g for name in names if (g := gender_of_title(name))}
    counts: dict[str, Counter[str]] = {}
    for match in pattern.finditer(text):
        name = match.group()
        if name in genders or name in PRONOUNS:
            continue
        tail = text[match.end() : match.end() + 80]
        found = re.search(r"\b(he|him|his|she|her)\b", tail)
        if found:
            counts.setdefault(name, Counter())[
                "m" if found.group(1) in ("he", "him", "his") else "f"
            ] += 1
    for name, counter in counts.items():
        total = sum(counter.values())
        top, hits = counter.most_common(1)[0]
        if total >= 3 and hits / total >= 0.65:
            genders[name] = top
    return genders


def subject(sentence: str, pattern: re.Pattern[str]) -> str | None:
    """The first name or pronoun of ``sentence`` that is not the object of a preposition."""
    for match in pattern.finditer(sentence):
        words = sentence[: match.start()].split()
        if words and words[-1].lower().strip(",") in _OBJECT_BEFORE:
            continue
        return match.group()
    return None


def _last_sentence(text: str) -> str:
    parts = _SENTENCE_SPLIT.split(text.strip())
    return parts[-1] if parts else ""


def preposed(before: str, pattern: re.Pattern[str]) -> tuple[str | None, str] | None:
    """``(speaker, how)`` when the narration right before a quote introduces it."""
    lead = " ".join(before.split())
    if not lead:
        return None
    match = _PRE.search(lead) or _PRE_INVERTED.search(lead)
    if match:
        who = match.group("who")
        if who.split()[0] in _NOT_NAMES and who not in PRONOUNS:
            return None
        return _normal(who), "before"
    if lead[-1] in ":":
        who = subject(_last_sentence(lead), pattern)
        return (who, "before") if who else (None, "zero")
    return _introduced(lead, pattern)


_SAYING = re.compile(rf"\b(?:{VERBS}|saying|say|says)\b")


def _introduced(lead: str, pattern: re.Pattern[str]) -> tuple[str | None, str] | None:
    """``she said very humbly,`` / ``he addressed the mother in these words,--`` / ``turning to
    Elizabeth, said,--``: a speech verb in the last clause, words after it, a comma or dash last."""
    if not re.search(r"(?:,|—|--|-|:)$", lead):
        return None
    sentence = _last_sentence(lead)
    verbs = list(_SAYING.finditer(sentence))
    if not verbs:
        announced = re.search(r"\b(?:in these words|as follows|thus)\b", sentence)
        if not re.search(r"(?:—|--|:)$", lead) or not announced:
            return None
        head = sentence
    else:
        verb = verbs[-1]
        if len(sentence) - verb.end() > 40 or re.search(r"[.!?;]", sentence[verb.end() :]):
            return None
        head = sentence[: verb.start()]
    who = None
    for match in pattern.finditer(head):
        words = head[: match.start()].split()
        if words and words[-1].lower().strip(",") in _OBJECT_BEFORE | _CLAUSE_OPENERS:
            continue  # turning to Elizabeth / saw what he was doing: not who speaks
        who = match.group()  # the nearest subject before the verb
    if who is None:
        who = subject(sentence, pattern)
    return (who, "intro") if who else None


_REPORTED = re.compile(
    rf"^\s*(?P<who>{_NAME})\s+(?:\w+ly\s+)?(?:replied|answered|returned|said|observed)"
    r"\s+(?:that|only|nothing|no|not)\b"
)


def reported(paragraph: str, pattern: re.Pattern[str]) -> str | None:
    """The person whose answer a narration paragraph reports (``Mr. Bennet replied that he had
    not.``): a name opening it, a verb of answering and ``that`` / ``nothing`` after it."""
    match = _REPORTED.match(" ".join(paragraph.split()))
    if match is None or not pattern.fullmatch(who := _normal(match.group("who"))):
        return None
    return who


def postposed(after: str, pattern: re.Pattern[str]) -> str | None:
    """The speaker named right after a quote (``“…,” said Elizabeth``)."""
    text = " ".join(after[:120].split())
    match = _POST.match(text)
    if not match:
        return None
    who = match.group("who") or match.group("who2")
    if who is None or (who.split()[0] in _NOT_NAMES and who not in PRONOUNS):
        return None
    return _normal(who)


KIN = {
    "mother": "f",
    "mamma": "f",
    "aunt": "f",
    "sister": "f",
    "daughter": "f",
    "niece": "f",
    "wife": "f",
    "lady": "f",
    "father": "m",
    "papa": "m",
    "uncle": "m",
    "brother": "m",
    "son": "m",
    "nephew": "m",
    "husband": "m",
    "gentleman": "m",
}
_KIN_WORDS = "|".join(KIN)
_EPITHET_WORDS = (
    r"(?P<owner>his|her|the)\s+(?:(?:old|young|elder|eldest|younger|youngest|little)\s+)?"
    rf"(?P<kin>{_KIN_WORDS})"
)
_EPITHET = re.compile(
    rf"^[\s,;—–-]*(?:(?:{VERBS})\s+{_EPITHET_WORDS}\b|{_EPITHET_WORDS.replace('?P<', '?P<x')}"
    rf"\s+(?:\w+ly\s+)?(?:{VERBS})\b)"
)


def epithet(after: str) -> tuple[str, str] | None:
    """``(owner, kin)`` of a tag that names the speaker by a relation (``said her mother`` →
    ``("her", "mother")``, ``said the old gentleman`` → ``("the", "gentleman")``)."""
    match = _EPITHET.match(" ".join(after[:120].split()))
    if match is None:
        return None
    owner = match.group("owner") or match.group("xowner")
    return owner, match.group("kin") or match.group("xkin")
