"""Provides the parser fuzz run: thousands of hostile files through every parser, by outcome.

    python bench/fuzz_parsers.py [--per-kind 300] [--big] [--timeout 20] [--seed 0] [--keep DIR]

Every input is written to a file and parsed the way the studio does it (``parse_file``: decode,
sniff, parse) and then once more with each parser forced. Each run ends in one outcome:

- ``parsed``: a ParseResult whose utterances are well formed (text, kind, a line inside the file);
- ``error``: a StudioError whose message names the file (what the CLI prints, no traceback);
- ``unclear``: a StudioError that does not name the file;
- ``invalid``: a ParseResult that breaks the contract (a line outside the file, a bad kind …);
- ``crash``: any other exception (a traceback for the user);
- ``hang``: no answer within the time limit (the worker is killed and replaced);
- ``died``: the worker process died (out of memory, a signal).

The slowest parse and the worker's peak resident memory are shown per kind (a fresh worker for
each 100 MB file, so its peak is that file's).

Inputs come from generators (random bytes and text, mutated public-domain corpora, truncated
multi-byte characters, mixed encodings, grammar-built scripts and novels, malformed SRT / ASS /
WebVTT timings), special paths (empty file, folder, links, a named pipe, a device) and, with
``--big``, 100 MB single-line files. Prints a table of outcomes by kind; failing inputs are
copied to ``--keep`` for a reproduction.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_inputs import BIG_KINDS, GENERATORS, special_paths  # noqa: E402

CORPORA = Path(os.environ.get("PERSONA_STUDIO_CORPORA", "/work/shared/corpora"))
PUBLIC = (
    "tiny-shakespeare/input.txt",
    "hongloumeng/hongloumeng.txt",
    "pride-and-prejudice/1342-0.txt",
    "sintel-subtitles/sintel_en.srt",
    "tears-of-steel-subtitles/TOS-en.srt",
    "pepper-and-carrot-ep06-subtitles/pepper-and-carrot-ep06-zhtw.srt",
)
OUTCOMES = ("parsed", "error", "unclear", "invalid", "crash", "hang", "died")
KINDS = {"dialogue", "narration", "action", "scene"}


# -- the worker: one process that parses what it is sent ----------------------------------------


def _check(result, text_lines: int, name: str) -> str | None:
    """A contract breach of a ParseResult, or None."""
    from studio.api import ParseResult, Utterance

    if not isinstance(result, ParseResult):
        return f"returned {type(result).__name__}"
    for utt in result.utterances:
        if not isinstance(utt, Utterance) or not isinstance(utt.text, str):
            return f"utterance of type {type(utt).__name__}"
        if utt.kind not in KINDS:
            return f"kind {utt.kind!r}"
        if utt.speaker is not None and not isinstance(utt.speaker, str):
            return f"speaker {utt.speaker!r}"
        if not 1 <= utt.line <= text_lines:
            return f"line {utt.line} outside 1..{text_lines}"
        if utt.file != name:
            return f"file {utt.file!r}, expected {name!r}"
    return None


def _worker(conn) -> None:
    import resource
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    limit = int(os.environ.get("FUZZ_MEMORY_GB", "6")) * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from studio.api.encoding import read_source
    from studio.corpus.inspect import parse_file
    from studio.errors import StudioError
    from studio.plugins import load_host

    parsers = load_host().parsers
    conn.send(sorted(parsers))
    while True:
        job = conn.recv()
        if job is None:
            return
        path, forced = job
        started = time.perf_counter()
        try:
            result = parse_file(path, parsers, parser=forced)
            try:
                lines = read_source(path).text.count("\n") + 1
            except StudioError:
                lines = 0
            problem = _check(result, lines, str(path))
            outcome, detail = (
                ("invalid", problem)
                if problem
                else ("parsed", f"{len(result.utterances)} utterances")
            )
        except StudioError as exc:
            named = str(path) in str(exc) or Path(path).name in str(exc)
            outcome, detail = ("error" if named else "unclear"), str(exc)[:200]
        except MemoryError:
            outcome, detail = "died", "MemoryError"
        except Exception as exc:  # what the fuzz run is looking for
            outcome, detail = (
                "crash",
                f"{type(exc).__name__}: {exc}"[:200] + "\n" + traceback.format_exc()[-1500:],
            )
        conn.send(
            (
                outcome,
                detail,
                time.perf_counter() - started,
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            )
        )


class Worker:
    """A parsing process with a time limit per job; killed and replaced when it hangs or dies."""

    def __init__(self) -> None:
        self.context = mp.get_context("fork")
        self.parsers: list[str] = []
        self._start()

    def _start(self) -> None:
        self.conn, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        self.parsers = self.conn.recv()

    def restart(self) -> None:
        """A fresh process: its peak memory then belongs to the next inputs alone."""
        self.close()
        self._start()

    def run(self, path: Path, forced: str, timeout: float) -> tuple[str, str, float, float]:
        started = time.perf_counter()
        self.conn.send((str(path), forced))
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
            outcome, detail = "hang", f"no answer within {timeout:.0f}s"
        except (EOFError, OSError):
            outcome, detail = "died", f"worker exit code {self.process.exitcode}"
        self.process.kill()
        self.process.join()
        self._start()
        return outcome, detail, time.perf_counter() - started, float("nan")

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


# -- the run ----------------------------------------------------------------------------------


def _seeds() -> list[tuple[str, bytes]]:
    seeds = []
    for rel in PUBLIC:
        path = CORPORA / rel
        if path.is_file():
            seeds.append((path.name, path.read_bytes()))
    if not seeds:  # no corpora here: a few lines written for this run
        seeds.append(("builtin", "ROMEO: Hi.\nJULIET: Hello.\n\n“Yes,” said Anne.\n".encode()))
    return seeds


def _inputs(args: argparse.Namespace, folder: Path) -> Iterator[tuple[str, Path, float]]:
    """``(kind, path, timeout)`` for every input, written into ``folder``."""
    rng = random.Random(args.seed)
    seeds = _seeds()
    number = 0
    for kind, make in GENERATORS.items():
        for _ in range(args.per_kind):
            number += 1
            path = folder / f"{number:06d}-{kind}.txt"
            path.write_bytes(make(rng, seeds))
            yield kind, path, args.timeout
            path.unlink()
    for kind, path in special_paths(folder / "special"):
        yield kind, path, args.timeout
    if args.big:
        for kind, write in BIG_KINDS.items():
            path = folder / f"big-{kind}.txt"
            write(path, 100 * 2**20)
            yield "100MB " + kind, path, max(args.timeout, 600.0)
            path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=300, help="inputs per generator")
    parser.add_argument("--big", action="store_true", help="also 100 MB single-line files (slow)")
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds per parse before it counts as a hang"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep", default="", help="copy inputs that crash, hang or break the contract here"
    )
    args = parser.parse_args()

    table: dict[str, Counter[str]] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    examples: list[tuple[str, str, str, str]] = []
    files = runs = 0
    worker = Worker()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        for kind, path, timeout in _inputs(args, Path(tmp)):
            files += 1
            for forced in ("", *worker.parsers):
                runs += 1
                if kind.startswith("100MB"):
                    worker.restart()
                outcome, detail, seconds, rss = worker.run(path, forced, timeout)
                table[kind][outcome] += 1
                slowest[kind] = max(slowest[kind], seconds)
                peak[kind] = max(peak[kind], rss) if rss == rss else peak[kind]
                if outcome not in ("parsed", "error"):
                    examples.append((kind, forced or "sniffed", outcome, detail))
                    if args.keep and path.is_file() and not path.is_symlink():
                        keep = Path(args.keep)
                        keep.mkdir(parents=True, exist_ok=True)
                        shutil.copy(path, keep / f"{outcome}-{forced or 'sniffed'}-{path.name}")
            if files % 200 == 0:
                print(
                    f"… {files} files, {runs} parser runs, {time.perf_counter() - started:.0f}s",
                    file=sys.stderr,
                )
    worker.close()

    print(
        f"\n{files} input files, {runs} parser runs "
        f"(sniffed + each of {len(worker.parsers)} parsers forced), "
        f"{time.perf_counter() - started:.0f}s\n"
    )
    head = (
        f"{'input kind':<24}"
        + "".join(f"{name:>9}" for name in OUTCOMES)
        + f"{'slowest s':>11}{'peak MB':>9}"
    )
    print(head)
    print("-" * len(head))
    total: Counter[str] = Counter()
    for kind, counts in table.items():
        total.update(counts)
        print(
            f"{kind:<24}"
            + "".join(f"{counts.get(name, 0):>9}" for name in OUTCOMES)
            + f"{slowest[kind]:>11.2f}{peak[kind]:>9.0f}"
        )
    print("-" * len(head))
    print(f"{'total':<24}" + "".join(f"{total.get(name, 0):>9}" for name in OUTCOMES))
    for kind, forced, outcome, detail in examples[:20]:
        print(f"\n[{outcome}] {kind} ({forced}): {detail}")
    bad = sum(total.get(name, 0) for name in ("unclear", "invalid", "crash", "hang", "died"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
