"""Provides who a pronoun, a turn or a vocative points to in the prose parser's pass.

- a pronoun (她/他/伊/she/he) resolves to a person of that sex named in the paragraph, in the
  exchange, or lately; it is *sure* only when no one else of that sex is as near, and, for a tag
  opening a paragraph of an exchange, to the one of that sex who did not speak last;
- turn-taking: in an exchange of two people (the last four turns), an untagged paragraph goes to
  the other one (A, B, A → B; B, A → B, less sure; A, ?, → A, less sure);
- turn counting: in a run of dialogue paragraphs where two people alternate (A … B, no one else
  speaking or named between), a paragraph of speech alone (no tag, no narration) after the last
  tag alternates from it;
- a relation (``said her mother``, ``said his lady``, ``said the old gentleman``) names the one
  person of that sex in the exchange other than the one the possessive points to, or the spouse
  under the same surname (``his lady`` of Mr. Bennet: Mrs. Bennet); else nobody;
- a quote that names a person at its start or end (“Lizzy, …”, “宝玉，你…”) is said to that person,
  which vetoes turn-taking giving it to them.
"""

from __future__ import annotations

import re
from typing import Any

FILL_CONFIDENCE = 0.65  # turn-fill: a place in a strict alternation of two known speakers


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
    _state: Any
    _para_mentions: list[str]
    _quote_text: str
    _opening: bool
    _pronoun_sure: bool
    _from_above: bool
    _intro_above: str
    _bare: bool
    names: set[str]
    attributions: list[Any]
    display: dict[str, str]
    _runs: list[list[tuple[int, str | None, frozenset[str], bool]]]

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

    def _turn_taker(self, adjacent: bool) -> tuple[str | None, str]:
        """The other speaker of an exchange of two: the last three turns went A, B, A (``turn``), or
        the last two went B, A in the paragraphs right before (``turn-pair``, less sure, and not
        when A's speech named someone else, who may be the one answering)."""
        turns = self._state.turns
        # one person's speech over two paragraphs is one turn (A, B, A, A → B)
        turns = [t for k, t in enumerate(turns) if not k or t is None or t != turns[k - 1]]
        if len({t for t in turns[-4:] if t}) != 2:
            return None, "unknown"  # three or more people talk: who answers is anyone's guess
        if len(turns) >= 3 and None not in turns[-3:]:
            a, b, c = turns[-3:]
            if a == c and a != b:
                return b, "turn"
        if adjacent and len(turns) >= 2 and None not in turns[-2:] and turns[-2] != turns[-1]:
            if self._state.asked - {turns[-2], turns[-1]}:
                return None, "unknown"  # “…except Beth.”: the one just named may answer
            return turns[-2], "turn-pair"
        if adjacent and len(turns) >= 2 and turns[-2] is not None and turns[-1] is None:
            return turns[-2], "turn-skip"  # A said …; an untagged answer; A again
        return None, "unknown"

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

    def _count_turns(self) -> tuple[str | None, str]:
        """Alternation counted from the last tagged paragraph of the run (``turn-count``): S spoke
        last by name, T before S at an odd distance with nothing against alternation between them
        and, right before T, S again, an untagged paragraph or the start of the run;
        the paragraph now is S's at an even distance from S, T's at an odd one. Any paragraph after
        T naming a third person, or a last speech naming one (who may answer), stops the count."""
        chain = self._state.chain
        last = next((i for i in range(len(chain) - 1, -1, -1) if chain[i][0]), None)
        if last is None:
            return None, "unknown"
        s = chain[last][0]
        t = None
        for k in range(last - 1, -1, -1):
            who = chain[k][0]
            if who is None:
                continue
            if (last - k) % 2 == 0:
                if who != s:
                    return None, "unknown"  # three people, or no alternation
                continue
            t = who
            break
        distance = len(chain) - last
        if t is None or t == s or distance > 8:
            return None, "unknown"
        if k and chain[k - 1][0] not in (s, None):
            return None, "unknown"  # A, B, C, A: three people talk, not two in turn
        pair = {s, t}
        if self._state.asked - pair or any(names - pair for _, names in chain[k + 1 :]):
            return None, "unknown"
        return (s if distance % 2 == 0 else t), "turn-count"

    def _note_turn(self, index: int, spoken: set[str | None] | None) -> None:
        """Keep the run of dialogue paragraphs ``_count_turns`` reads. ``spoken``: the speakers of
        this paragraph's quotes (None: no speech). The run ends at a paragraph of narration alone,
        at a paragraph whose narration leaves its speaker unknown (it may bring someone in), and
        at a paragraph where two people speak."""
        chain = self._state.chain
        if spoken is None:
            chain.clear()
            self._runs.append([])
            return
        known = {s for s in spoken if s}
        several = len(known) > 1
        if (
            index - self._state.last_dialogue_paragraph != 1
            or several
            or (not known and not self._bare)
        ):
            chain.clear()
            self._runs.append([])
        names = frozenset(
            self._canonical(n)
            for n in self._para_mentions
            if n not in self.rules.PRONOUNS and n != self.first_person
        )
        speaker = known.pop() if known else None
        chain.append((speaker, names - {speaker} if speaker else names))
        del chain[:-24]
        if not several:  # one speaker or none: a paragraph a run can count
            self._runs[-1].append((index, speaker, chain[-1][1], self._bare and speaker is None))

    def _fill_runs(self) -> None:
        """After the pass: in a run of dialogue paragraphs where exactly two people speak and
        every known turn is at a place of the right parity (A, ?, A, B is not; A, ?, A, ?, B
        is), a paragraph of speech alone takes the turn its place gives (``turn-fill``), unless
        a quote calls that person by name or narration in the run names a third person. Past
        the first and the last known turn, only when three turns are known. English only."""
        if self.zh:  # Chinese talk has untagged lines by people the cast does not hold (那人,
            return  # 驼背五少爷): two known talkers are no proof that only two talk
        by_paragraph: dict[int, list[Any]] = {}
        for attribution in self.attributions:
            by_paragraph.setdefault(attribution.paragraph, []).append(attribution)
        for run in self._runs:
            known = [(k, who) for k, (_, who, _, _) in enumerate(run) if who]
            people = {who for _, who in known}
            if len(people) != 2 or any(names - people for _, _, names, _ in run):
                continue
            first, a = known[0]
            if any((k - first) % 2 != (who != a) for k, who in known):
                continue  # not strict turns
            b = (people - {a}).pop()
            low, high = known[0][0], known[-1][0]
            if len(known) >= 3:
                low, high = low - 2, high + 3
            for k, (index, who, _, bare) in enumerate(run):
                if who or not bare or not low <= k <= high:
                    continue
                taker = a if (k - first) % 2 == 0 else b
                quotes = by_paragraph.get(index, [])
                if taker.startswith("~") or any(
                    self._calls(q.utterance.text, taker) for q in quotes
                ):
                    continue  # the one an unread tag named: no speaker to give
                for q in quotes:
                    if q.utterance.speaker is None:
                        q.utterance.speaker = self.display.get(taker, taker)
                        q.utterance.method = "turn-fill"
                        q.utterance.confidence = FILL_CONFIDENCE
                        q.method = q.rule = "turn-fill"
                        q.confidence = FILL_CONFIDENCE

    def _calls(self, text: str, person: str) -> bool:
        """Whether ``text`` speaks to ``person`` by name at its start or end (“Lizzy, …”)."""
        called = self._addressee(text)
        return called is not None and self._canonical(called) == person

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
