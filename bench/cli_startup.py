"""Provides the command line start-up benchmark: how long ``persona-studio`` takes before work.

Each case starts a fresh ``python -m studio`` process: the top-level ``--help``, one command's
``--help`` (its stage's parser), and ``runs`` on an empty workspace (parser, workspace, a table).
``--tree`` names source trees to compare (each run with ``PYTHONPATH=TREE:TREE/plugins``); the
processes of all trees are interleaved, so load on the machine falls on each alike.

    python bench/cli_startup.py                              # this tree
    python bench/cli_startup.py --tree . --tree ../other     # two trees side by side

``wall`` is the wall clock, median and minimum over ``--repeat`` starts; ``cpu`` the median
user + system CPU time of the process, which other work on the machine inflates less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "plugins")])
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start(tree: Path, argv: list[str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one ``python -m studio ARGV``."""
    began, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        [sys.executable, "-m", "studio", *argv],
        env=_env(tree),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return (time.perf_counter() - began) * 1000, (_cpu() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", action="append", default=[], help="a source tree (default: this one)"
    )
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.tree] or [HERE]
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        subprocess.run(
            [sys.executable, "-m", "studio", "init", str(workspace)],
            env=_env(trees[0]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cases = {
            "--help": ["--help"],
            "runs --help": ["runs", "--help"],
            "runs WORKSPACE": ["runs", str(workspace)],
        }
        times: dict[tuple[str, Path], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for name, argv in cases.items():
                for tree in trees:
                    times.setdefault((name, tree), []).append(_start(tree, argv))
    print(
        f"{'case':<16} {'tree':<32} {'wall median ms':>15} {'wall min ms':>12} "
        f"{'cpu median ms':>14}"
    )
    for (name, tree), values in times.items():
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        print(
            f"{name:<16} {str(tree)[-32:]:<32} {statistics.median(wall):>15.0f} "
            f"{min(wall):>12.0f} {statistics.median(cpu):>14.0f}"
        )


if __name__ == "__main__":
    main()
