"""Provides the workspace: one folder = one persona project; the module that knows its layout.

```
studio.toml          character, aliases, persona card, corpus globs, base model, training
corpus/              raw files as dropped in; never modified
datasets/<name>/     samples.jsonl + review journal (append-only, autosaved)
runs/<run-id>/       one training run each (its inside: studio.train.rundir.RunDir)
chats/               saved transcripts
exports/             merged models, exported datasets
```
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.api.text import has_cjk
from studio.config import StudioConfig, load_config
from studio.errors import InputError, StudioError, WorkspaceLocked
from studio.fsutil import atomic_write_text

CONFIG_NAME = "studio.toml"
LOCK_NAME = ".studio.lock"

TEMPLATE = '''# persona-studio workspace: one character, one corpus, one base model.
# Every key is optional; docs/settings.md in the persona-studio repository lists them all
# (also: persona-studio train --help).

[character]
name = "{name}"           # as the corpus spells it most often
aliases = []              # other names of the same character
persona = """{persona}"""

[corpus]
files = {files}  # globs relative to this folder; drop your script/novel/subtitles there

[dataset]
mode = "single"           # single | multi (windows of a scene's conversation)

[model]
name = "tiny-qwen2"       # e.g. "Qwen/Qwen2.5-7B-Instruct" (ModelScope) once you have a GPU
source = "tiny"           # modelscope | huggingface | local | tiny (random weights, offline demo)

[train]
epochs = 3
'''


@dataclass
class LockInfo:
    pid: int
    host: str
    since: str

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host} since {self.since}"


class Workspace:
    """A persona workspace folder.

    Args:
        root: the folder holding studio.toml.
        config: an already loaded config (tests); read from studio.toml otherwise.

    Raises:
        InputError: studio.toml is missing or invalid.
    """

    def __init__(self, root: str | Path, config: StudioConfig | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InputError(
                self.root, "no such workspace folder (persona-studio init PATH creates one)"
            )
        self.config = config or load_config(self.root / CONFIG_NAME)
        self.read_only = False
        self._lock_fd: int | None = None

    # -- layout ---------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def corpus_dir(self) -> Path:
        return self.inside("corpus")

    @property
    def datasets_dir(self) -> Path:
        return self.inside("datasets")

    @property
    def runs_dir(self) -> Path:
        return self.inside("runs")

    @property
    def chats_dir(self) -> Path:
        return self.inside("chats")

    @property
    def exports_dir(self) -> Path:
        return self.inside("exports")

    @property
    def cache_dir(self) -> Path:
        return self.inside(".cache")

    def dataset_dir(self, name: str | None = None) -> Path:
        """``datasets/<name>`` (the configured dataset by default).

        Refused if a link leads it outside.
        """
        return self.inside(self.datasets_dir / self.safe_name(name or self.config.dataset.name))

    def run_dir(self, run_id: str) -> Path:
        """``runs/<run_id>``, refused if a link leads it outside the workspace."""
        return self.inside(self.runs_dir / self.safe_name(run_id))

    @staticmethod
    def safe_name(name: str) -> str:
        """Reject names that would leave the workspace (``..``, slashes, empty)."""
        if not name or not re.fullmatch(r"[\w.\-]+", name) or name in {".", ".."}:
            raise StudioError(f"invalid name {name!r}: use letters, digits, '.', '_' and '-'")
        return name

    def inside(self, path: str | Path) -> Path:
        """Resolve ``path`` relative to the workspace; refuse anything outside it (symlinks too).

        The layout folders (``datasets/``, ``runs/`` …) go through here too, so a link that
        leads one of them out of the workspace is refused rather than written through.

        Raises:
            StudioError: the resolved path is outside the workspace (or a link loop).
        """
        try:
            resolved = (self.root / path).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise StudioError(f"{path}: cannot resolve ({exc}); refused") from None
        if resolved != self.root and self.root not in resolved.parents:
            raise StudioError(f"{path}: outside the workspace {self.root}; refused")
        return resolved

    def corpus_files(self) -> list[Path]:
        """Files matched by ``[corpus] files``, sorted, inside the workspace, README/notes skipped.

        ``**`` never descends into a linked folder (two links to ``.`` would make the walk
        endless); hidden files and folders are skipped; a link that leads outside is refused.

        Raises:
            InputError: a pattern that is empty, absolute or climbs out with ``..``.
            StudioError: a matched file is a link to somewhere outside the workspace.
        """
        found: dict[Path, None] = {}
        for pattern in self.config.corpus.files:
            if not pattern.strip() or os.path.isabs(pattern) or ".." in Path(pattern).parts:
                raise InputError(
                    self.config_path,
                    f"[corpus] files: {pattern!r} leaves the workspace; expected a glob inside it",
                )
            try:
                matches = sorted(self.root.glob(pattern))
            except (ValueError, NotImplementedError, OSError) as exc:
                raise InputError(
                    self.config_path,
                    f"[corpus] files: {pattern!r}: {exc}; expected a glob such as corpus/*",
                ) from None
            for path in matches:
                parts = path.relative_to(self.root).parts
                if any(part.startswith(".") for part in parts) or path.name.lower() in {
                    "readme.md",
                    "source.md",
                    "license",
                }:
                    continue
                if path.is_dir():
                    continue
                found[self.inside(path)] = None
        return list(found)

    # -- runs -----------------------------------------------------------------------------

    def new_run_id(self, prefix: str = "run") -> str:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{prefix}-{stamp}"
        n = 1
        while (self.runs_dir / run_id).exists():
            n += 1
            run_id = f"{prefix}-{stamp}-{n}"
        return run_id

    # -- lock -----------------------------------------------------------------------------

    def lock(self, *, read_only_ok: bool = False) -> Workspace:
        """Take the workspace lock; one studio process owns a workspace at a time.

        Args:
            read_only_ok: when another process holds it, open read-only instead of failing.

        Raises:
            WorkspaceLocked: someone else holds it and ``read_only_ok`` is False.
        """
        path = self.root / LOCK_NAME
        try:  # never through a link: the lock file is truncated and rewritten below
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StudioError(
                    f"{path}: a symbolic link; refused (remove it to open the workspace)"
                ) from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = self.lock_holder()
            if read_only_ok:
                self.read_only = True
                return self
            raise WorkspaceLocked(
                f"{self.root} is open in another studio ({holder or 'unknown process'})"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
        except OSError:
            # who holds it is a courtesy for the next one; a full disk must not leave
            # the lock stuck
            pass
        self._lock_fd = fd
        return self

    def lock_holder(self) -> LockInfo | None:
        try:
            data = json.loads((self.root / LOCK_NAME).read_text())
            return LockInfo(int(data["pid"]), str(data["host"]), str(data["since"]))
        except (OSError, ValueError, KeyError):
            return None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Workspace:
        return self.lock()

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def reload(self) -> None:
        self.config = load_config(self.config_path)


DEFAULT_CORPUS_GLOBS = ("corpus/*.txt",)
"""What ``[corpus] files`` says when the parsers' extensions are not known."""


def placeholder_persona(name: str) -> str:
    """A persona card to start from, in the language of the character's name."""
    if has_cjk(name):
        return f"你是{name}。请始终保持角色，用{name}的口吻回答。"
    return f"You are {name}. Stay in character and answer as {name} would."


def create_workspace(
    root: str | Path, *, character: str = "", persona: str = "", corpus_globs: Sequence[str] = ()
) -> Workspace:
    """Create a new workspace folder from the template.

    Args:
        root: the new folder (missing or empty).
        character: the character's name as the corpus spells it.
        persona: the persona card; a placeholder in the language of the name when empty.
        corpus_globs: ``[corpus] files``: one glob per extension the parsers read (see
            :func:`studio.corpus.inspect.corpus_globs`), so a README or a script dropped in
            ``corpus/`` is not parsed.

    Raises:
        StudioError: the folder exists and is not empty.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise StudioError(f"{root} exists and is not empty; pick a new folder")
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    name = character or "Character"
    persona = persona or placeholder_persona(name)
    files = "[" + ", ".join(json.dumps(g) for g in (corpus_globs or DEFAULT_CORPUS_GLOBS)) + "]"
    atomic_write_text(
        root / CONFIG_NAME,
        TEMPLATE.format(
            name=name.replace('"', ""), persona=persona.replace('"""', ""), files=files
        ),
    )
    return Workspace(root)
