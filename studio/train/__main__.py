"""Provides ``python -m studio.train RUN_DIR [--resume]``: the training process itself.

The TUI and ``persona-studio train`` start it; ``torchrun``/``accelerate launch`` start one per GPU.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.train", description="Run one prepared training run folder.")
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true", help="continue from the latest complete checkpoint")
    args = parser.parse_args(argv)
    from studio.train.recipe import run

    return run(args.run_dir, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
