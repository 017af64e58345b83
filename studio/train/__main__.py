"""Provides ``python -m studio.train RUN_DIR [--resume]``: the training process itself.

``persona-studio train`` and the TUI start it; ``torchrun`` / ``accelerate launch`` start one
per GPU:

    torchrun --standalone --nproc-per-node 4 -m studio.train runs/my-run
    accelerate launch --num_processes 4 -m studio.train runs/my-run
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studio.train", description="Run one prepared training run folder."
    )
    parser.add_argument("run_dir")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the latest complete checkpoint"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=0,
        metavar="STEP",
        help="stop (with a checkpoint, resumable) once this step is done",
    )
    args = parser.parse_args(argv)
    from studio.train.recipe import run

    return run(args.run_dir, resume=args.resume, stop_after=args.stop_after)


if __name__ == "__main__":
    sys.exit(main())
