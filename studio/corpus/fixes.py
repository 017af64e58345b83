"""Provides the user's corpus fixes: speaker assignments per source line, and alias merges.

Speaker fixes are kept in ``corpus-fixes.jsonl`` at the workspace root, an append-only journal
(one fsynced line per decision, like the review journal). Each entry names a corpus file and a
line (the ``file``/``line`` of an utterance, or of a line the parser could not classify) and
the speaker to assign; ``"speaker": null`` clears the fix. Entries written together share a
``batch`` number, and ``{"action": "undo"}`` takes back the whole last batch.

:func:`apply_fixes` replays the journal over parsed utterances; the dataset builder calls it
before building samples, so a fix never touches the raw corpus files.

Alias merges go to studio.toml: an alias of the character to ``[character] aliases``, any
other to ``[roster] aliases``. The file is edited with tomlkit (the user's comments and layout
stay), validated, and replaced atomically.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.api import Utterance
from studio.errors import InputError, StudioError
from studio.fsutil import append_jsonl, atomic_write_text, read_jsonl

FIXES_NAME = "corpus-fixes.jsonl"


@dataclass(frozen=True)
class SpeakerFix:
    """One line's assigned speaker.

    Attributes:
        file: the corpus file as utterances name it (workspace-relative).
        line: the 1-based line (an utterance's ``line``).
        speaker: the speaker to assign.
        text: the spoken text, for a line the parser did not turn into an utterance; the fix
            then adds it as a dialogue utterance. None keeps the parsed text.
    """

    file: str
    line: int
    speaker: str
    text: str | None = None


def fixes_path(ws: Any) -> Path:
    """The journal of speaker fixes of workspace ``ws``."""
    return Path(ws.root) / FIXES_NAME


def _read_journal(path: Path) -> list[dict[str, Any]]:
    try:
        entries = read_jsonl(path)
    except ValueError as exc:
        raise InputError(path, f"{exc}; expected one JSON object per line") from None
    for number, entry in enumerate(entries, start=1):
        if entry.get("action") == "undo":
            continue
        if not isinstance(entry.get("file"), str) or not isinstance(entry.get("line"), int):
            raise InputError(
                path,
                'expected an object with "file" (text), "line" (integer) and "speaker"',
                number,
            )
    return entries


def _batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group journal entries into batches and drop the batches that an undo took back."""
    batches: list[list[dict[str, Any]]] = []
    for entry in entries:
        if entry.get("action") == "undo":
            if batches:
                batches.pop()
            continue
        batch = entry.get("batch")
        if batches and batch is not None and batches[-1][0].get("batch") == batch:
            batches[-1].append(entry)
        else:
            batches.append([entry])
    return batches


def load_fixes(ws: Any) -> dict[tuple[str, int], SpeakerFix]:
    """The current fix of every line, after replaying the journal (undo included).

    Raises:
        InputError: a malformed journal line (names the file and line).
    """
    state: dict[tuple[str, int], SpeakerFix] = {}
    for batch in _batches(_read_journal(fixes_path(ws))):
        for entry in batch:
            key = (entry["file"], entry["line"])
            speaker = entry.get("speaker")
            if speaker:
                state[key] = SpeakerFix(
                    entry["file"], entry["line"], str(speaker), entry.get("text")
                )
            else:
                state.pop(key, None)
    return state


def record_fixes(
    ws: Any, targets: Iterable[tuple[str, int, str | None]], speaker: str | None
) -> int:
    """Assign ``speaker`` to every ``(file, line, text)`` target as one undoable batch.

    Args:
        ws: the workspace (must not be read-only).
        targets: the lines; ``text`` is the spoken text for a line that is not an utterance
            yet (a parse warning), None otherwise.
        speaker: the speaker; None or empty clears the fixes of those lines.

    Returns:
        How many lines were recorded.

    Raises:
        StudioError: the workspace is open read-only.
    """
    if getattr(ws, "read_only", False):
        raise StudioError(
            f"{ws.root} is open read-only (another studio holds it); speaker fixes are disabled"
        )
    path = fixes_path(ws)
    batch = time.time_ns()
    count = 0
    speaker = (speaker or "").strip() or None
    for file, line, text in targets:
        entry: dict[str, Any] = {
            "t": round(time.time(), 3),
            "batch": batch,
            "file": file,
            "line": int(line),
            "speaker": speaker,
        }
        if text is not None and speaker:
            entry["text"] = text
        append_jsonl(path, entry)
        count += 1
    return count


def undo_fixes(ws: Any) -> list[tuple[str, int]]:
    """Take back the last batch of fixes; returns the lines it covered (empty when none)."""
    if getattr(ws, "read_only", False):
        raise StudioError(
            f"{ws.root} is open read-only (another studio holds it); speaker fixes are disabled"
        )
    path = fixes_path(ws)
    batches = _batches(_read_journal(path))
    if not batches:
        return []
    append_jsonl(path, {"t": round(time.time(), 3), "action": "undo"})
    return [(entry["file"], entry["line"]) for entry in batches[-1]]


def apply_fixes(
    utterances: Sequence[Utterance], ws: Any, fixes: dict[tuple[str, int], SpeakerFix] | None = None
) -> list[Utterance]:
    """Return ``utterances`` with the workspace's speaker fixes applied.

    A fixed utterance gets the assigned speaker and becomes dialogue; a fix of a line that
    has no utterance (a line the parser warned about) is inserted as a dialogue utterance in
    source order, in the scene of the utterance before it. The input list is not modified.

    Args:
        utterances: parsed utterances in source order.
        ws: the workspace whose ``corpus-fixes.jsonl`` is applied.
        fixes: already loaded fixes (skips reading the journal).
    """
    fixes = load_fixes(ws) if fixes is None else fixes
    if not fixes:
        return list(utterances)
    present = {(u.file, u.line) for u in utterances}
    inserts: dict[str, list[SpeakerFix]] = {}
    for key, fix in sorted(fixes.items()):
        if key not in present and fix.text:
            inserts.setdefault(fix.file, []).append(fix)
    out: list[Utterance] = []

    def flush(file: str, before: int | None, scene: str) -> None:
        queue = inserts.get(file)
        while queue and (before is None or queue[0].line < before):
            fix = queue.pop(0)
            out.append(
                Utterance(
                    speaker=fix.speaker,
                    text=fix.text or "",
                    kind="dialogue",
                    scene=scene,
                    file=fix.file,
                    line=fix.line,
                )
            )

    previous: Utterance | None = None
    for utt in utterances:
        if previous is not None and previous.file != utt.file:
            flush(previous.file, None, previous.scene)
        flush(
            utt.file,
            utt.line,
            previous.scene if previous is not None and previous.file == utt.file else utt.scene,
        )
        fix = fixes.get((utt.file, utt.line))
        if fix is not None and utt.kind != "scene":
            utt = dataclasses.replace(
                utt,
                speaker=fix.speaker,
                kind="dialogue",
                text=fix.text if fix.text is not None else utt.text,
                method="fix",
                confidence=None,
            )  # the user's word is certain
        out.append(utt)
        previous = utt
    if previous is not None:
        flush(previous.file, None, previous.scene)
    return out


# --------------------------------------------------------------------------------------------
# Alias merges in studio.toml
# --------------------------------------------------------------------------------------------


def _string_list(value: Any) -> list[str]:
    return [str(v) for v in value] if value is not None else []


def merge_alias(ws: Any, alias: str, canonical: str) -> str:
    """Record that speaker ``alias`` is the same character as ``canonical``.

    An alias of the workspace's character goes to ``[character] aliases``; any other to
    ``[roster] aliases``. When ``alias`` was itself a canonical name with aliases of its own,
    they move under ``canonical``. The config is validated before the file is replaced, and
    ``ws.config`` is reloaded.

    Args:
        ws: the workspace (must not be read-only).
        alias: the name to fold in.
        canonical: the name it folds into.

    Returns:
        ``"character"`` or ``"roster"``: the section that changed.

    Raises:
        StudioError: read-only workspace, empty or equal names, or merging the character's
            own name into someone else.
    """
    import tomlkit

    from studio.config import parse_config

    alias, canonical = alias.strip(), canonical.strip()
    if getattr(ws, "read_only", False):
        raise StudioError(
            f"{ws.root} is open read-only (another studio holds it); alias merges are disabled"
        )
    if not alias or not canonical:
        raise StudioError("an alias merge needs two names")
    if alias == canonical:
        raise StudioError(f"{alias!r} is already its own canonical name")
    character = ws.config.character
    if alias == character.name:
        raise StudioError(f"{alias!r} is the character's name; merge {canonical!r} into it instead")
    path = ws.config_path
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    if canonical == character.name or canonical in character.aliases:
        section = "character"
        table = doc.get("character")
        if table is None:
            doc["character"] = table = tomlkit.table()
        names = _string_list(table.get("aliases"))
        moved = _string_list((doc.get("roster") or {}).get("aliases", {}).get(alias))
        for name in [alias, *moved]:
            if name not in names and name != character.name:
                names.append(name)
        table["aliases"] = names
        roster_aliases = (doc.get("roster") or {}).get("aliases")
        if roster_aliases is not None and alias in roster_aliases:
            del roster_aliases[alias]
    else:
        section = "roster"
        roster = doc.get("roster")
        if roster is None:
            doc["roster"] = roster = tomlkit.table()
        aliases = roster.get("aliases")
        if aliases is None:
            roster["aliases"] = aliases = tomlkit.table()
        for other in list(aliases.keys()):  # merging into an alias means into its canonical name
            if other != alias and canonical in _string_list(aliases[other]):
                canonical = other
        if canonical == alias:
            raise StudioError(f"{alias!r} is already the canonical name of that character")
        moved = _string_list(aliases.get(alias))
        if alias in aliases:
            del aliases[alias]
        for other in list(aliases.keys()):
            if other != canonical and alias in _string_list(aliases[other]):
                aliases[other] = [n for n in _string_list(aliases[other]) if n != alias]
        names = _string_list(aliases.get(canonical))
        for name in [alias, *moved]:
            if name not in names and name != canonical:
                names.append(name)
        aliases[canonical] = names
    text = tomlkit.dumps(doc)
    parse_config(text, path)  # never write a config the studio itself would refuse
    atomic_write_text(path, text)
    ws.reload()
    return section
