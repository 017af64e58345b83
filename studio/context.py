"""Provides the context a subcommand handler runs in, and the CLI's exit codes.

Every stage package registers its subcommands with ``register(subparsers)`` (see
``studio/cli.py``); each handler takes one :class:`Context` and returns an exit code. The context
loads the plugin host once (printing its warnings once, to stderr), opens the workspace on
demand, and reports errors the same way for every command.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from studio.errors import StudioError
from studio.workspace import Workspace

if TYPE_CHECKING:
    from studio.plugins import PluginHost

EXIT_OK = 0  # the command did what was asked
EXIT_FAILED = 1  # the input was fine, the work failed (no samples, a failed run, nothing to stop)
EXIT_USAGE = 2  # bad input or usage: a wrong flag value, an unreadable file, a bad studio.toml
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away, as in ``… | head`` (128 + SIGPIPE)

Handler = Callable[["Context"], int]


class Subparsers(Protocol):
    """What a stage's ``register(subparsers)`` adds its parsers to (argparse's subparsers)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def report_error(
    message: str | StudioError, code: int = EXIT_USAGE, *, stream: TextIO | None = None
) -> int:
    """Print ``error: message`` to stderr (or ``stream``) and return ``code``, the exit code."""
    print(f"error: {message}", file=stream or sys.stderr)
    return code


def parse_options(items: list[str], flag: str = "--opt") -> dict[str, str]:
    """``NAME=VALUE`` command line items as a dict.

    Raises:
        StudioError: an item without ``=``.
    """
    options: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise StudioError(f"{flag} {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        options[key.strip()] = value
    return options


class Context:
    """What a subcommand handler gets: its arguments, the plugin host and the workspace.

    Args:
        args: the parsed command line; ``args.workspace`` (when the command has one) is the
            folder :meth:`workspace` opens.
        stderr: where warnings and errors go (tests pass their own).
    """

    def __init__(self, args: argparse.Namespace, *, stderr: TextIO | None = None) -> None:
        self.args = args
        self._stderr = stderr
        self._host: PluginHost | None = None
        self._workspaces: dict[str, Workspace] = {}

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    @property
    def host(self) -> PluginHost:
        """The plugin host, loaded on first use; its plugin warnings are printed once."""
        if self._host is None:
            # loaded here: entry-point discovery (importlib.metadata) costs commands without
            # plugins, and the top-level --help, a third of their start-up
            from studio.plugins import load_host

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._host = load_host()
            for warning in caught:
                self.warn(str(warning.message))
        return self._host

    def workspace(self, path: str | None = None, *, lock: bool = False) -> Workspace:
        """The workspace at ``path`` (default: ``args.workspace``), opened once per command.

        Args:
            path: the workspace folder.
            lock: take the workspace lock (released by :meth:`close` at the latest).

        Raises:
            StudioError: not a workspace, a bad studio.toml, or another process holds the lock.
        """
        key = str(path if path is not None else self.args.workspace)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._workspaces[key] = Workspace(key)
        if lock:
            ws.lock()
        return ws

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.stderr)

    def error(self, message: str | StudioError, code: int = EXIT_USAGE) -> int:
        """Print ``error: message`` to stderr and return ``code`` for the handler to return."""
        return report_error(message, code, stream=self.stderr)

    def close(self) -> None:
        """Release every workspace lock this command took."""
        for ws in self._workspaces.values():
            ws.unlock()
