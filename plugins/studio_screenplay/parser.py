"""Provides ScreenplayParser: Chinese scripts (``角色：台词``) and English plays and screenplays.

What a line can be, in the order the parser tries:

- a scene heading: ``第一集`` / ``第3幕`` / ``【另分一幕】`` / ``1-2 碎玉轩 日 内`` / ``ACT II`` /
  ``SCENE III. A street.`` / ``INT. KITCHEN - NIGHT``; episode and act headings are the outer
  level, scene headings the inner one, and the scene id is ``outer/inner`` (``#2`` is appended
  when a script repeats a number);
- a stage direction wholly in brackets, ``（皇帝登基）`` / ``(beat)`` / ``[Aside]``, or a play's
  ``Enter …`` / ``Exeunt`` or a screenplay transition ``CUT TO:`` (kind ``action``);
  ``（旁白：…）`` and ``旁白：…`` are narration (kind ``narration``);
- a speaker label: ``甄嬛：…``, ``苏培盛（宣旨）：…`` (the bracket becomes the utterance's
  ``action``), full- and half-width colons and ``∶``; ``甄嬛；…`` (a semicolon typo) only for
  names the file also labels with a colon; ``NAME: line`` and ``NAME. line`` (upper case); a name
  alone on its line (``NAME:``, ``NAME.``, a screenplay cue ``NAME (V.O.)``) followed by the
  speech on the next lines, which needs a blank line (or a heading or direction) before it;
- anything else: the continuation of an open speech block, an action paragraph, or, in a
  Chinese script, a line without a label (kept unassigned, with a warning).

Inline ``（…）`` asides are removed from the spoken text and kept in ``action``; text after a
second colon stays in the speech.

Scenes of files without any heading (tiny-shakespeare, a bare transcript) are cut at structural
breaks (two or more blank lines) and where the cast changes: a new scene starts at a line whose
speaker, and the speakers of the next two lines, said nothing in the last ``cast_window``
lines of the current scene. Their ids are ``auto-1``, ``auto-2`` …
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from studio.api import BoolOption, IntOption, ParseResult, ParseWarning, SourceText, Utterance
from studio_screenplay import lines as shapes

_SNIFF_CHARS = 60_000
_SUBTITLE = re.compile(r"^\[Script Info\]|^\[Events\]|^WEBVTT|\d:\d\d:\d\d[,.]\d{1,3}\s*-->", re.M)
_QUOTES = '“「"『‘'


class ScreenplayParser:
    """Scripts and plays into utterances (see the module docstring for the rules)."""

    name = "screenplay"
    description = "Scripts and plays: 角色：台词, 角色（动作）：台词, NAME: line, NAME. line, NAME cues, INT./EXT."
    extensions = (".txt", ".fountain")
    """File extensions this parser reads: a new workspace's ``[corpus] files`` globs these."""
    options = (
        BoolOption("keep_inline_actions", False, "Keep （…） asides inside the spoken text"),
        IntOption(
            "cast_window",
            6,
            "Files without headings: lines of cast memory for scene cuts (0: off)",
            minimum=0,
        ),
    )

    def sniff(self, source: SourceText) -> float:
        """Share of the first lines that read as script structure (labels, cues, headings)."""
        head = source.text[:_SNIFF_CHARS]
        if _SUBTITLE.search(head[:4000]):
            return 0.0  # SRT timings or an ASS header: subtitles, whatever their labels say
        if len(source.text) > _SNIFF_CHARS:
            head = head[: head.rfind("\n") + 1] or head
        assembler = _Assembler(source.name, {"keep_inline_actions": False, "cast_window": 0})
        assembler.run(head)
        nonblank = assembler.nonblank
        if nonblank == 0 or assembler.dialogue_lines == 0:
            return 0.0
        share = assembler.structured / nonblank
        certainty = min(1.0, (assembler.dialogue_lines + 1) / 3)  # one labelled line proves little
        return round(min(0.98, share * 1.15) * certainty, 3)

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        """Parse a whole script; unlabelled lines become warnings, never silent drops."""
        assembler = _Assembler(source.name, options)
        assembler.run(source.text)
        return ParseResult(self.name, source, assembler.utterances, assembler.warnings)


class _Assembler:
    """One pass over a script's lines (after a pass that counts labels)."""

    def __init__(self, file: str, options: Mapping[str, Any]) -> None:
        self.file = file
        self.keep_inline = bool(options.get("keep_inline_actions", False))
        self.cast_window = int(options.get("cast_window", 6))
        self.utterances: list[Utterance] = []
        self.warnings: list[ParseWarning] = []
        self.nonblank = 0
        self.structured = 0
        self.dialogue_lines = 0
        self._outer = ""
        self._inner = ""
        self._scene = ""
        self._seen: Counter[str] = Counter()
        self._by_inner: dict[str, str] = {}
        self._any_heading = False
        self._breaks: set[int] = set()  # utterance indices preceded by two or more blank lines
        self._current: Utterance | None = None
        self._block = ""  # "cue": name alone, speech below; "inline": NAME: text; "" none
        self._actions: list[str] = []
        self._action_para: Utterance | None = None
        self._new_para = True

    # -- the pass --------------------------------------------------------------------------

    def run(self, text: str) -> None:
        rows = text.split("\n")
        stripped = [row.strip() for row in rows]
        labels = [shapes.label(line) if line else None for line in stripped]
        strong: Counter[str] = Counter()
        weak: Counter[str] = Counter()
        for lab in labels:
            if lab is not None:
                (strong if lab.strong else weak)[lab.name] += 1
        blank_run = 1  # the start of the file counts as a blank line before the first line
        prev = "start"
        for index, line in enumerate(stripped):
            number = index + 1
            if not line:
                blank_run += 1
                self._close()
                if blank_run == 2:
                    self._breaks.add(len(self.utterances))
                prev = "blank"
                continue
            self.nonblank += 1
            self._new_para = blank_run > 0
            after_gap = blank_run > 0 or prev in ("heading", "action")
            blank_run = 0
            prev = self._line(line, number, labels[index], after_gap, stripped, index, strong, weak)
        self._close()
        if not self._any_heading:
            self._cut_scenes()

    def _line(
        self,
        line: str,
        number: int,
        lab: shapes.Label | None,
        after_gap: bool,
        stripped: list[str],
        index: int,
        strong: Counter[str],
        weak: Counter[str],
    ) -> str:
        found = shapes.heading(line)
        if found is not None and self._block != "cue":
            self._close()
            self._new_scene(found)
            self._emit(None, line, "scene", number)
            self.structured += 1
            return "heading"
        inner = shapes.enclosed(line)
        if inner is not None:
            return self._direction(inner, number)
        if shapes.transition(line) or (
            shapes.play_direction(line) and self._direction_allowed(line)
        ):
            if self._block == "cue" and self._current is not None and self._current.text:
                self._current.action = _join_actions(self._current.action, [line])
            else:
                self._close()
                self._emit(None, line, "action", number)
            self.structured += 1
            return "action"
        if lab is not None and self._accept(lab, after_gap, stripped, index, strong, weak):
            return self._labelled(lab, number)
        return self._plain(line, number, self._new_para)

    def _direction_allowed(self, line: str) -> bool:
        """``Exit`` ends a speech; at a speech's start or mid-line it is more likely a word."""
        if self._block == "inline":
            return False
        if self._block == "cue":
            return self._current is not None and bool(self._current.text) and len(line) < 60
        return True

    def _accept(
        self,
        lab: shapes.Label,
        after_gap: bool,
        stripped: list[str],
        index: int,
        strong: Counter[str],
        weak: Counter[str],
    ) -> bool:
        if lab.text and lab.text[0] in _QUOTES and lab.name[-1:] in "道说问曰":
            return False  # 宝玉道：“…” is prose, not a script label
        known = strong[lab.name] + weak[lab.name]
        if self._block == "cue" and known < 3:
            return False  # inside a speech, "Madam: I come" is speech
        if not lab.strong and strong[lab.name] == 0 and weak[lab.name] < 3:
            return False
        if lab.text:
            return True
        # a name alone: speech must follow, and (English) a gap must precede
        following = stripped[index + 1] if index + 1 < len(stripped) else ""
        if not following:
            return after_gap  # an isolated "NAME:" paragraph: a label whose speech is missing
        if shapes.heading(following) is not None:
            return False
        if shapes.is_cjk_text(lab.name):
            return self._block != "cue"
        return after_gap

    def _labelled(self, lab: shapes.Label, number: int) -> str:
        self._close()
        self.structured += 1
        text, actions = (lab.text, []) if self.keep_inline else shapes.split_inline(lab.text)
        if shapes.narration_label(lab.name):
            if text:
                self._emit(None, text, "narration", number)
            return "action"
        if shapes.context_label(lab.name):
            self._emit(None, f"{lab.name}：{lab.text}" if lab.text else lab.name, "action", number)
            return "action"
        head_action = None if shapes.cue_extension(lab.action) else lab.action
        if not lab.text:
            self._current = self._emit(lab.name, "", "dialogue", number, head_action)
            if shapes.cue_extension(lab.action):
                self._current.action = lab.action
            self._block = "cue"
            return "speech"
        action = _join_actions(head_action, actions)
        if text:
            self._current = self._emit(lab.name, text, "dialogue", number, action)
            self.dialogue_lines += 1
            self._block = "inline"
        else:
            self._emit(lab.name, action or "", "action", number)
        return "speech"

    def _direction(self, inner: str, number: int) -> str:
        self.structured += 1
        lab = shapes.label(inner) if inner else None
        if lab is not None and shapes.narration_label(lab.name):
            self._close()
            if lab.text:
                self._emit(None, lab.text, "narration", number)
            return "action"
        current = self._current
        if self._block == "cue" and current is not None:
            current.action = _join_actions(current.action, [inner])  # a screenplay parenthetical
            return "speech"
        self._close()
        if inner:
            self._emit(None, inner, "action", number)
        return "action"

    def _plain(self, line: str, number: int, new_para: bool) -> str:
        current = self._current
        cjk = shapes.is_cjk_text(line)
        if self._block == "cue" and current is not None:
            self._append(current, line)
            self.structured += 1
            if shapes.is_cjk_text(current.speaker or ""):
                self._block = "inline"  # 甄嬛：⏎ takes one speech line, not the rest of the file
            return "speech"
        if (
            self._block == "inline"
            and current is not None
            and not cjk
            and not shapes.is_cjk_text(current.text)
        ):
            self._append(current, line)  # a wrapped English line
            self.structured += 1
            return "speech"
        if self._block == "inline" and current is not None and not new_para:
            self._close()
            text, actions = (line, []) if self.keep_inline else shapes.split_inline(line)
            if text:
                self._emit(None, text, "dialogue", number, _join_actions(None, actions))
                self._warn(
                    number,
                    f"no speaker label; kept as dialogue with no speaker "
                    f"(the line before is {current.speaker}'s): {line[:40]!r}",
                )
                return "speech"
            self._emit(None, _join_actions(None, actions) or line, "action", number)
            return "action"
        para = self._action_para
        if para is not None and not new_para:
            self._append(para, line)
            return "action"
        self._close()
        self._action_para = self._emit(None, line, "action", number)
        if cjk:
            self._warn(
                number,
                f"not a dialogue, heading or bracketed direction; kept as action: {line[:40]!r}",
            )
        return "action"

    # -- helpers ---------------------------------------------------------------------------

    def _emit(
        self, speaker: str | None, text: str, kind: str, number: int, action: str | None = None
    ) -> Utterance:
        utt = Utterance(speaker, text, kind, self._scene, self.file, number, action=action)  # type: ignore[arg-type]
        self.utterances.append(utt)
        if kind != "action":
            self._action_para = None
        return utt

    def _append(self, utt: Utterance, line: str) -> None:
        text, actions = (line, []) if self.keep_inline else shapes.split_inline(line)
        if actions:
            utt.action = _join_actions(utt.action, actions)
        if not text:
            return
        if utt.text and not (shapes.is_cjk_text(utt.text) or shapes.is_cjk_text(text)):
            utt.text = f"{utt.text} {text}"
        else:
            utt.text += text
        if utt.kind == "dialogue" and utt.text == text:
            self.dialogue_lines += 1

    def _close(self) -> None:
        current = self._current
        if current is not None and self._block == "cue" and not current.text:
            if current.action:
                current.kind, current.text = "action", current.action
            else:
                for back in range(len(self.utterances) - 1, -1, -1):
                    if self.utterances[back] is current:
                        del self.utterances[back]
                        break
                self._warn(
                    current.line, f"speaker label {current.speaker!r} without any speech after it"
                )
        self._current = None
        self._block = ""
        self._action_para = None

    def _warn(self, number: int, message: str) -> None:
        self.warnings.append(ParseWarning(self.file, number, message))

    def _new_scene(self, found: shapes.Heading) -> None:
        self._any_heading = True
        if found.outer:
            self._outer, self._inner = found.text, ""
        else:
            self._inner = found.text
        if found.continued and found.text in self._by_inner:
            self._scene = self._by_inner[found.text]  # 第63幕（续） goes on with 第63幕
            return
        base = "/".join(part for part in (self._outer, self._inner) if part)
        self._seen[base] += 1
        count = self._seen[base]
        self._scene = base if count == 1 else f"{base}#{count}"
        if not found.outer:
            self._by_inner[found.text] = self._scene

    def _cut_scenes(self) -> None:
        """Scene ids for a file without headings: structural breaks and cast changes."""
        window = self.cast_window
        cuts = set(self._breaks)
        if window:
            start = 0  # index into ``dialogue`` where the current scene starts
            breaks = sorted(self._breaks)
            next_break = 0
            dialogue = [
                (i, u.speaker)
                for i, u in enumerate(self.utterances)
                if u.kind == "dialogue" and u.speaker
            ]
            for k, (position, _speaker) in enumerate(dialogue):
                if next_break < len(breaks) and breaks[next_break] <= position:
                    while next_break < len(breaks) and breaks[next_break] <= position:
                        next_break += 1
                    start = k
                if k - start < window:
                    continue
                recent = {s for _, s in dialogue[max(start, k - window) : k]}
                upcoming = {s for _, s in dialogue[k : k + 3]}
                if not upcoming & recent:
                    cuts.add(position)
                    start = k
        scene = 1
        for index, utt in enumerate(self.utterances):
            if index in cuts and index:
                scene += 1
            utt.scene = f"auto-{scene}"


def _join_actions(first: str | None, more: list[str]) -> str | None:
    parts = [part for part in ([first] if first else []) + list(more) if part]
    if not parts:
        return None
    sep = "；" if shapes.is_cjk_text(parts[0]) else "; "
    return sep.join(parts)
