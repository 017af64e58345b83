"""Provides who a pronoun, a relation or a vocative points to in the prose parser's pass.

- a pronoun (她/他/伊/she/he) resolves to a person of that sex named in the paragraph, in the
  narration just before, in the exchange, or lately; it is *sure* only when no one else of that
  sex is as near, and, for a tag opening a paragraph of an exchange, to the one of that sex who
  did not speak last;
- a relation (``said her mother``, ``said his lady``, ``said the old gentleman``) names the one
  person of that sex in the exchange other than the one the possessive points to, or the spouse
  under the same surname (``his lady`` of Mr. Bennet: Mrs. Bennet); else nobody;
- a quote that names a person at its start or end (“Lizzy, …”, “宝玉，你…”) is said to that person.

Who takes which turn of an exchange is :mod:`studio_prose.turns`.
"""

from __future__ import annotations

import re
from typing import Any


class Referents:
    """Mixin of :class:`studio_prose.parser.ProseDocument`: the state it reads is set there."""

    rules: Any  # rules_zh or rules_en
    zh: bool
    narrator: str
    first_person: str
    neutral_he: bool
    pattern: re.Pattern[str]
    genders: dict[str, str]
    roles: dict[str, str | None]
    same: dict[str, tuple[str, str]]
    _view: str
    _state: Any
    _para_mentions: list[str]
    _quote_text: str
    _opening: bool
    _pronoun_sure: bool
    _from_above: bool
    _intro_above: str
    _bare: bool
    names: set[str]

    def _canonical(self, name: str) -> str:
        name = self.roles.get(name) or name
        return self.same[name][0] if name in self.same else name

    def _addressee(self, quote: str | None = None) -> str | None:
        """The person a quote (default: the one being attributed) speaks to by name (“Lizzy, …”
        / “…, Mr. Bennet.” / “宝玉，你…”)."""
        text = (self._quote_text if quote is None else quote).strip()
        if self.zh:
            match = self.pattern.match(text)
            ok = match is not None and text[match.end() : match.end() + 1] in "，,！!"
        else:
            match = self.pattern.match(text) or self.pattern.search(text, max(0, len(text) - 30))
            ok = match is not None and (
                match.start() == 0
                and text[match.end() : match.end() + 1] in ",!"
                or match.start() > 0
                and text[match.start() - 2 : match.start()] == ", "
            )
        if not ok or match is None or match.group() in self.rules.PRONOUNS:
            return None
        return match.group()

    def _kin(self, owner: str, kin: str) -> str | None:
        """The person a relation tag names, with evidence (see the module docstring)."""
        gender = self.rules.KIN[kin]
        sex_of = self._sex_of
        holder = None
        if owner in ("his", "her"):
            want = "m" if owner == "his" else "f"
            quote = self._quote_text  # “My dear Mr. Bennet,”: a name called out, not spoken of
            spoken_to = [
                m.group()
                for m in self.pattern.finditer(quote)
                if quote[m.end() : m.end() + 1] in (",", "!")
            ][::-1]
            pool = [
                self._addressee(),
                *spoken_to,
                *reversed(self._para_mentions),
                *(s for s in reversed(self._state.turns[-4:]) if s),
                *reversed(self._state.recent[-4:]),
            ]
            holder = next((self._canonical(p) for p in pool if p and sex_of(p) == want), None)
            if holder is None:
                return None
        if kin in ("lady", "wife", "husband") and holder is not None:
            title, _, surname = holder.partition(" ")
            spouse = {"Mr.": "Mrs.", "Mr": "Mrs", "Mrs.": "Mr.", "Mrs": "Mr"}.get(title)
            if spouse and f"{spouse} {surname}" in self.names:
                return f"{spouse} {surname}"
        partners = {self._canonical(s) for s in self._state.turns[-4:] if s}
        partners |= {
            self._canonical(p) for p in self._para_mentions if p not in self.rules.PRONOUNS
        }
        found = {
            p
            for p in partners
            if p != holder and p != (self.narrator or self.first_person) and sex_of(p) == gender
        }
        return found.pop() if len(found) == 1 else None

    def _untitled(self, speaker: str) -> str:
        """``Mr. Darcy`` from a tag, outside the cast, is the cast's ``Darcy`` when no other
        titled ``Darcy`` is in the cast and Darcy's sex, if known, is the title's."""
        title, _, rest = speaker.partition(" ")
        sex = self.rules.gender_of_title(speaker)
        if not rest or sex is None or rest not in self.names:
            return speaker
        if any(n != rest and n.endswith(" " + rest) for n in self.names):
            return speaker  # Miss Bingley in the cast: Mr. Bingley is not plain Bingley
        return rest if self._sex_of(rest) in (None, sex) else speaker

    def _sex_of(self, name: str) -> str | None:
        if name in self.rules.PRONOUNS:
            return None
        return self.genders.get(name) or self.rules.gender_of_title(name)

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
            others = {
                p
                for p in partners
                if p != state.turns[-1]
                and p != narrator
                and (self.genders.get(p) or self.rules.gender_of_title(p)) == gender
            }
            if len(others) == 1 and not self._named_near(others, gender, narrator):
                self._pronoun_sure = True
                return others.pop()
        only = self._only_one_of(gender, narrator) if gender else None
        if only is not None:
            self._pronoun_sure = True  # said he, in a talk between one man and women
            return only
        if self._from_above and not self._para_mentions:  # …Lydia…, she interrupted him with,--
            ahead = self._named_before(raw)
            found = self._pick(reversed(ahead), gender, narrator) if ahead else None
            if found is not None:
                rivals = {n for n in ahead if n != found and self._sex_of(n) in (gender, None)}
                self._pronoun_sure = bool(gender) and not rivals
                return found
        pools = (
            reversed(self._para_mentions),
            reversed(state.narrated),  # “…,” she said, after a paragraph about her
            partners,
            reversed(state.recent[-8:]),
        )
        for pool in pools:
            found = self._pick(pool, gender, narrator)
            if found is not None:
                # 玄凌走来…，他却笑道: the person just named is sure; so is the last person the
                # narration named right before this speech (not for an introduction above:
                # …she resolved; and, turning to Elizabeth, said,--)
                just_named = bool(self._para_mentions) and found == self._para_mentions[-1]
                narrated_last = (
                    not self._para_mentions
                    and bool(state.narrated)
                    and found == state.narrated[-1]
                    and not self._from_above
                )
                if just_named and gender:
                    self._pronoun_sure = True
                elif not narrated_last and self._pronoun_sure:
                    # said she, with two women in the scene
                    self._pronoun_sure = not self._rivals(found, gender, narrator, partners)
                return found
        return None

    def _named_before(self, pronoun: str) -> list[str]:
        """The people named in the narration above a speech before its last ``pronoun``."""
        text = self._intro_above
        at = max(
            (m.start() for m in re.finditer(rf"(?<!\w){re.escape(pronoun)}(?!\w)", text)),
            default=-1,
        )
        return [
            self._canonical(m.group())
            for m in self.pattern.finditer(text, 0, max(at, 0))
            if m.group() not in self.rules.PRONOUNS
        ]

    def _only_one_of(self, gender: str, narrator: str) -> str | None:
        """The one person of ``gender`` who has spoken in this exchange, when every recent turn's
        speaker is known (an unknown one may be another of that sex) and nobody else of that sex
        is named in this paragraph or in the narration since the last speech."""
        sex_of = self._sex_of
        state = self._state
        if (
            not state.turns
            or None in state.turns[-4:]
            or any(sex_of(p) is None and p != narrator for p in state.turns[-4:])
        ):
            return None
        spoke = {self._canonical(p) for p in state.turns[-4:] if p}
        same = {p for p in spoke if p != narrator and sex_of(p) == gender}
        if len(same) != 1:
            return None
        return None if self._named_near(same, gender, narrator, unknown=True) else same.pop()

    def _named_near(
        self, chosen: set[str], gender: str, narrator: str, unknown: bool = False
    ) -> bool:
        """Whether narration since the last speech (or this paragraph's) names someone else of
        ``gender`` (or, with ``unknown``, of unknown sex) who may be the one meant."""
        state = self._state
        near = {self._canonical(n) for n in (*self._para_mentions, *state.narrated, *state.tail)}
        sexes = (gender, None) if unknown else (gender,)
        return any(
            n not in chosen
            and n != narrator
            and n not in self.rules.PRONOUNS
            and self._sex_of(n) in sexes
            for n in near
        )

    def _rivals(self, found: str, gender: str, narrator: str, partners: list[str]) -> bool:
        """Whether another person of ``gender`` is as near as ``found`` (this paragraph, the
        exchange, the last few people named)."""
        near = {*self._para_mentions, *partners, *self._state.recent[-3:]} - {found, narrator}
        return any(
            (self.genders.get(n) or self.rules.gender_of_title(n)) == gender
            for n in near
            if n not in self.rules.PRONOUNS
        )

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
