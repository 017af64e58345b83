"""Provides ``persona-studio card``: a persona card drafted from the corpus, for the user to edit.

persona-studio card WS              # print the draft and its evidence; write card-draft.md
persona-studio card WS --apply      # also make the draft studio.toml's [character] persona
"""

from __future__ import annotations

import argparse

from studio.context import EXIT_FAILED, EXIT_OK, Context, Subparsers
from studio.corpus.load import load_utterances
from studio.corpus.roster import alias_map
from studio.dataset.card import CardDraft, draft_card
from studio.errors import StudioError
from studio.fsutil import atomic_write_text
from studio.workspace import Workspace

DRAFT_NAME = "card-draft.md"
"""The draft and its evidence, beside studio.toml."""


def register(subparsers: Subparsers) -> None:
    """Add ``card`` to the command line."""
    p = subparsers.add_parser("card")
    p.add_argument("workspace")
    p.add_argument(
        "--character", default="", help="draft for this character (default: studio.toml's)"
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="also write the draft into studio.toml as [character] persona",
    )
    p.add_argument("--card-only", action="store_true", help="print the card alone, no evidence")
    p.set_defaults(handler=run_card)


def draft_for(ws: Workspace, parsers: dict, character: str = "") -> CardDraft:
    """The draft card of ``character`` (studio.toml's by default) from the workspace corpus,
    after the user's speaker fixes and alias merges.

    Raises:
        StudioError: no character, or the character has no lines.
    """
    name = character or ws.config.character.name
    if not name:
        raise StudioError(
            f"{ws.config_path}: [character] name is empty; expected a character "
            "(or --character NAME)"
        )
    utterances = load_utterances(ws, parsers).utterances
    try:
        return draft_card(utterances, name, alias_map(ws.config.aliases()))
    except ValueError as exc:
        raise StudioError(
            f"{ws.root}: {exc}; `persona-studio roster {ws.root}` lists who speaks"
        ) from None


def write_draft(ws: Workspace, draft: CardDraft) -> None:
    """Write the draft and its evidence to ``card-draft.md`` beside studio.toml."""
    atomic_write_text(ws.root / DRAFT_NAME, draft.to_markdown() + "\n")


def set_persona(ws: Workspace, persona: str) -> None:
    """Write ``persona`` as studio.toml's ``[character] persona``, keeping the file's comments;
    the config is validated before the file is replaced."""
    import tomlkit

    from studio.config import parse_config

    if ws.read_only:
        raise StudioError(f"{ws.root} is open read-only (another studio holds it)")
    doc = tomlkit.parse(ws.config_path.read_text(encoding="utf-8"))
    table = doc.get("character")
    if table is None:
        doc["character"] = table = tomlkit.table()
    table["persona"] = tomlkit.string(persona, multiline="\n" in persona)
    text = tomlkit.dumps(doc)
    parse_config(text, ws.config_path)
    atomic_write_text(ws.config_path, text)
    ws.reload()


def run_card(ctx: Context) -> int:
    """``persona-studio card``."""
    args: argparse.Namespace = ctx.args
    ws = ctx.workspace(lock=args.apply)
    draft = draft_for(ws, ctx.host.parsers, args.character)
    print(draft.card if args.card_only else draft.to_markdown())
    if not ws.read_only:
        write_draft(ws, draft)
        print(f"\nwrote {DRAFT_NAME} ({draft.lines} lines of {draft.character})", file=ctx.stderr)
    if args.apply:
        if args.character and args.character != ws.config.character.name:
            print(
                "error: --apply writes studio.toml's character's card; drop --character",
                file=ctx.stderr,
            )
            return EXIT_FAILED
        set_persona(ws, draft.card)
        print("studio.toml: [character] persona is now the draft (edit it there)", file=ctx.stderr)
    return EXIT_OK
