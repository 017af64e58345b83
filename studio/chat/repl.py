"""Provides the plain terminal chat of ``persona-studio chat``: one-shot replies and a REPL.

Commands in the REPL: ``/reset``, ``/base`` (base model vs adapter on the same weights),
``/memory K`` (her real exchanges retrieved into each turn; 0: off), ``/sampling NAME``,
``/save`` and ``/quit``; the transcript is saved to ``chats/`` at exit.
"""

from __future__ import annotations

from typing import Any

from studio.chat.persona import Persona
from studio.chat.session import SAMPLING_PRESETS, ChatSession
from studio.errors import StudioError

REPL_HELP = """commands: /reset  new conversation    /base  toggle base model vs adapter
          /memory K  her K real exchanges per turn (0: off)
          /sampling greedy|balanced|creative    /save  write the transcript    /quit"""


def print_turn(
    session: ChatSession, user: str, *, show_stats: bool = False, prefix: str = ""
) -> None:
    """Stream one reply to stdout; with ``show_stats`` a line of speed figures goes to stderr."""
    import sys

    sys.stdout.write(prefix)
    for piece in session.stream(user):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    stats = session.last_stats
    if show_stats and stats is not None:
        print(
            f"[{stats.new_tokens} tokens, prompt {stats.prompt_tokens} "
            f"({stats.reused_tokens} cached), first token "
            f"{stats.ttft_s * 1000:.0f} ms, {stats.tokens_per_s:.1f} tokens/s, "
            f"{stats.finish_reason}]",
            file=sys.stderr,
        )


def chat_repl(ws: Any, persona: Persona, session: ChatSession, *, show_stats: bool = False) -> int:
    """A plain terminal conversation; the transcript is saved to ``chats/`` on /save and at exit."""
    import datetime as dt
    import sys

    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = ws.chats_dir / f"{started}-{persona.label.replace('@', '-')}.json"
    print(
        f"chatting with {persona.character} ({persona.label}); /help for commands, ctrl-d to quit",
        file=sys.stderr,
    )

    def save() -> None:
        if session.history:
            session.save(
                path,
                {
                    "character": persona.character,
                    "model": persona.label,
                    "adapter": persona.adapter_dir.relative_to(ws.root).as_posix()
                    if persona.adapter_dir
                    else None,
                },
            )
            print(f"saved {path.relative_to(ws.root)}", file=sys.stderr)

    while True:
        try:
            user = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            save()
            return 0
        command, _, rest = user.strip().partition(" ")
        if command in ("/quit", "/exit"):
            save()
            return 0
        if command == "/help":
            print(REPL_HELP, file=sys.stderr)
        elif command == "/reset":
            save()
            session.reset()
            path = ws.chats_dir / (
                f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-"
                f"{persona.label.replace('@', '-')}.json"
            )
        elif command == "/save":
            save()
        elif command == "/base":
            if not persona.can_disable_adapter:
                print("no adapter to switch off (base model, or merged)", file=sys.stderr)
            else:
                session.use_adapter = not session.use_adapter
                print(
                    "answering with "
                    + ("the adapter" if session.use_adapter else "the base model"),
                    file=sys.stderr,
                )
        elif command == "/memory":
            if not rest.strip().isdigit():
                print("expected /memory K: a whole number of exchanges (0: off)", file=sys.stderr)
                continue
            k = int(rest)
            if k and session.memory is None:
                try:
                    session.memory = persona.memory(ws, k)
                except StudioError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    continue
            if session.memory is not None:
                session.memory.k = k
            print(f"memory: {k} exchanges per turn" if k else "memory off", file=sys.stderr)
        elif command == "/sampling":
            if rest not in SAMPLING_PRESETS:
                print(f"expected one of {', '.join(SAMPLING_PRESETS)}", file=sys.stderr)
            else:
                session.sampling = dict(SAMPLING_PRESETS[rest])
        elif user.strip():
            who = persona.character if session.use_adapter else f"{persona.character} (base)"
            try:
                print_turn(session, user, show_stats=show_stats, prefix=f"{who}> ")
            except KeyboardInterrupt:
                session.cancel()
                print("\n(interrupted)", file=sys.stderr)
            except StudioError as exc:
                print(f"\nerror: {exc}", file=sys.stderr)
