"""Provides the ``persona-studio`` command: the TUI on a workspace, and dispatch to subcommands.

    persona-studio WORKSPACE                 open the studio (asks to create WORKSPACE when missing)
    persona-studio COMMAND ... [--help]      a headless subcommand (the list: ``COMMANDS``)

Each stage package registers its own subcommands: its ``commands`` module has a
``register(subparsers)`` that adds the parsers and sets ``handler``, a function taking one
:class:`studio.context.Context` and returning an exit code. This module only knows which module
registers which command, so ``persona-studio --help`` imports none of them and a command imports
only its own stage.

Exit codes, the same for every command:

    0    ok
    1    the work failed (no samples built, a failed run, nothing to stop)
    2    bad input or usage (a wrong flag, an unreadable corpus file, a bad studio.toml, no run)
    130  interrupted (Ctrl-C)
    141  stdout was closed by its reader (``persona-studio runs ws | head -3``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio import __version__
from studio.context import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Context,
    Subparsers,
    report_error,
)
from studio.errors import StudioError
from studio.fsutil import DISK_FULL
from studio.workspace import CONFIG_NAME, create_workspace

# command → (the module whose register() adds it, the one line the top-level --help shows)
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("studio.commands", "list plugins and what they register"),
    "init": ("studio.commands", "create a new workspace folder"),
    "parse": ("studio.corpus.commands", "parse corpus files into utterances"),
    "roster": ("studio.corpus.commands", "speakers with utterance counts after alias merging"),
    "build": ("studio.dataset.commands", "build the character's dataset"),
    "export-data": (
        "studio.dataset.commands",
        "export the dataset (alpaca, sharegpt, messages, xtuner, datasets)",
    ),
    "review": (
        "studio.dataset.commands",
        "review counts, list, accept/reject/edit/undo samples headlessly",
    ),
    "card": (
        "studio.dataset.card_command",
        "draft a persona card from the corpus (--apply: make it studio.toml's persona)",
    ),
    "augment": (
        "studio.augment.commands",
        "propose more samples with a strategy (pending review); resumable",
    ),
    "train": ("studio.train.commands", "start a LoRA training run"),
    "runs": ("studio.train.commands", "list runs, or follow one"),
    "stop": ("studio.train.commands", "stop a run (it saves a checkpoint first)"),
    "chat": ("studio.chat.commands", "chat with the character (REPL, or one reply with --prompt)"),
    "serve": (
        "studio.serve.commands",
        "an OpenAI-compatible API (/v1/chat/completions) for the character",
    ),
    "eval": (
        "studio.eval.commands",
        "base vs adapter on the held-out scenes: did the fine-tune work?",
    ),
    "export": (
        "studio.export.commands",
        "the adapter (peft), a vLLM folder, a merged model (--merged), GGUF + Modelfile (--gguf)",
    ),
}

USAGE = "persona-studio WORKSPACE [--yes]\n       persona-studio COMMAND [ARGS] [--help]"
DESCRIPTION = """Turn a novel, script or subtitles into a character chat model.

persona-studio WORKSPACE opens the studio (the terminal UI) on a workspace folder; when the
folder does not exist it offers to create it (--yes: without asking). The commands below do the
same steps headlessly; persona-studio COMMAND --help documents each."""
EPILOG = "exit codes: 0 ok, 1 the work failed, 2 bad input or usage, 130 interrupted"


class _Stage:
    """The subparsers one stage module registers into; each command's summary comes from COMMANDS.

    Args:
        sub: the top-level parser's subparsers.
        module: the stage module registering.
    """

    def __init__(self, sub: Subparsers, module: str) -> None:
        self._sub = sub
        self._module = module

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if COMMANDS.get(name, ("",))[0] != self._module:
            raise RuntimeError(
                f"{self._module} registers {name!r}, which COMMANDS does not list under it"
            )
        summary = COMMANDS[name][1]
        kwargs.setdefault("help", summary)
        kwargs.setdefault("description", summary[:1].upper() + summary[1:] + ".")
        parser: argparse.ArgumentParser = self._sub.add_parser(name, **kwargs)
        return parser


def build_parser(stages: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The command line parser.

    Args:
        stages: the stage modules to import and register; None: all of them. The other commands
            get a bare parser that only lists them in ``--help``.
    """
    parser = argparse.ArgumentParser(
        prog="persona-studio",
        usage=USAGE,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"persona-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="persona-studio")
    wanted = None if stages is None else set(stages)
    done: set[str] = set()
    for name, (module, summary) in COMMANDS.items():
        if module in done:
            continue
        if wanted is None or module in wanted:
            importlib.import_module(module).register(_Stage(sub, module))
            done.add(module)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def open_studio(path: str, *, yes: bool = False) -> int:
    """``persona-studio WORKSPACE``: the TUI on a workspace, created first when missing."""
    target = Path(path)
    ctx = Context(argparse.Namespace(workspace=path))
    if not (target / CONFIG_NAME).exists():
        if target.exists() and any(target.iterdir()):
            return report_error(f"{target} has no {CONFIG_NAME}; expected a workspace folder")
        if not yes:
            if not sys.stdin.isatty():
                return report_error(
                    f"{target} is not a workspace; create it with: persona-studio init {target}"
                )
            answer = input(f"{target} does not exist. Create a new workspace there? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                return EXIT_FAILED
        from studio.corpus.inspect import corpus_globs

        create_workspace(target, corpus_globs=corpus_globs(ctx.host.parsers))
    from studio.tui.app import StudioApp  # textual: only for the studio itself

    ws = ctx.workspace()
    ws.lock(read_only_ok=True)
    try:
        StudioApp(ws).run()
    finally:
        ws.unlock()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ctx: Context | None = None
    try:
        if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
            return open_studio(argv[0], yes="--yes" in argv or "-y" in argv)
        command = next((item for item in argv if not item.startswith("-")), "")
        stage = COMMANDS[command][0] if command in COMMANDS else ""
        parser = build_parser([stage] if stage else [])
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_OK
        ctx = Context(args)
        code = int(handler(ctx))
        sys.stdout.flush()  # a closed pipe shows here, inside the handling below
        return code
    except StudioError as exc:
        return report_error(exc)
    except BrokenPipeError:
        # the reader left (… | head): no traceback; point stdout at /dev/null so that the
        # interpreter's own flush at exit does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        return report_error(
            f"{exc.filename or 'a file'}: {exc.strerror}; nothing half-written was "
            "kept (free some space and run the command again)"
        )
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        if ctx is not None:
            ctx.close()


__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "open_studio",
]
