"""Provides turn-taking in the prose parser's pass: who speaks the untagged paragraphs of an
exchange.

- turn-taking: in an exchange of two people (the last four turns), an untagged paragraph goes to
  the other one (A, B, A → B; B, A → B, less sure; A, ?, → A, less sure); one person's speech
  over two paragraphs is one turn;
- turn counting: in a run of dialogue paragraphs where two people alternate (A … B, no one else
  speaking or named between), a paragraph of speech alone (no tag, no narration) after the last
  tag alternates from it;
- ``turn-fill``, after the pass (English): in a run where exactly two people take strict turns,
  a paragraph of speech alone takes the turn its place gives;
- a quote said to someone by name (:meth:`Referents._addressee`) is not theirs: it vetoes
  turn-taking giving it to them;
- a tag the rules cannot read into a name (``“…”老头子和气的问``) takes a turn under ``UNREAD``
  and its first word, never given as a speaker.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from studio_prose.referents import Referents

# a tag the rules cannot read into a name: the person it names takes a turn of the exchange under
# this mark plus the tag's first word, and is never given as a speaker
UNREAD = "~"
FILL_CONFIDENCE = 0.65  # turn-fill: a place in a strict alternation of two known speakers


class Turns(Referents):
    """Mixin of :class:`studio_prose.parser.ProseDocument`: the state it reads is set there."""

    attributions: list[Any]
    display: dict[str, str]
    _runs: list[list[tuple[int, str | None, frozenset[str], bool]]]

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

    def _note_turn(self, index: int, spoken: Collection[str | None] | None) -> None:
        """Keep the run of dialogue paragraphs ``_count_turns`` reads. ``spoken``: the speakers of
        this paragraph's quotes (None: no speech). The run ends at a paragraph of narration alone,
        at a paragraph whose narration leaves its speaker unknown (it may bring someone in), and
        at a paragraph where two people speak."""
        chain = self._state.chain
        if spoken is None:
            chain.clear()
            self._runs.append([])
            return
        known = [s for s in spoken if s]  # in the order they spoke
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
        speaker = known[-1] if known else None  # with two, the run starts from the last
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
                if taker.startswith(UNREAD) or any(
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
