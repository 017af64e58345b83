"""Provides the fixed workspace the TUI tests and snapshots run on (text written for these tests).

``make_workspace(root)`` writes a studio.toml, a short English play, a Chinese scene with one
line the parser cannot classify, and a subtitle file without speakers, then builds the dataset.
``write_fixed_run(root)`` adds a finished 30-step run with fixed events and log lines, so the
train screen renders the same chart every time.
"""

from __future__ import annotations

import math
from pathlib import Path

from studio.train.events import (
    CheckpointEvent,
    ConfigEvent,
    DataEvent,
    EvalEvent,
    Event,
    FinishedEvent,
    StepEvent,
)
from studio.train.rundir import ADAPTER_CONFIG, RunDir

PLAY = """ACT I

SCENE I. A harbour at dawn.

Enter MIRA and TOBIAS.

TOBIAS: The boats are late again. The fog has swallowed the whole bay.
MIRA: Then we wait. The sea keeps its own hours, not ours.
TOBIAS: You always say that, and you are always right.
MIRA: I am right because I listen. Hear the bells? They are close now.
OLD WREN: Mind the ropes, the pair of you!
MIRA: We mind them, Wren. We mind everything on this pier.
TOBIAS: Wren never sleeps, does he?
MIRA: Sleep is for people without nets to mend.

SCENE II. The net loft.

Enter WREN with a lantern.

WREN: Who left the lamp burning?
MIRA: I did. I wanted to finish the blue net before the tide.
WREN: Finish it tomorrow. Your hands are shaking.
MIRA: My hands shake; my knots do not.
TOBIAS: She is stubborn as the tide herself.
MIRA: Stubborn keeps the boats afloat, Tobias.

Exeunt.
"""

SCENE_ZH = """第1幕
（渔港，清晨）
阿桥：雾这么大，船还回得来吗？
MIRA：回得来。海有海的时辰。
阿桥；你总是这么笃定。
MIRA：因为我一直在听潮声。
"""

SUBTITLES = """1
00:00:01,000 --> 00:00:03,000
Is anyone on the pier?

2
00:00:03,500 --> 00:00:05,000
Only me, and the gulls.

3
00:00:05,500 --> 00:00:08,000
Then help me with this rope.
"""

CONFIG = """# the TUI tests' workspace
[character]
name = "MIRA"
persona = "You are Mira, a net-mender of a small harbour town. Mira is patient, stubborn and \
warm. Mira mends the blue nets before every tide. Mira's father kept the lighthouse on the \
north pier."

[dataset]
eval_fraction = 0.0
identity_samples = false

[model]
name = "tiny-qwen2"
source = "tiny"

[train]
epochs = 2
max_length = 512
tokens_per_batch = 512
eval_every = 2
save_every = 2
"""


def make_workspace(root: Path, *, build: bool = True) -> Path:
    """Write the workspace under ``root`` (created) and build its dataset."""
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    (root / "corpus" / "harbour.txt").write_text(PLAY, encoding="utf-8")
    (root / "corpus" / "harbour-zh.txt").write_text(SCENE_ZH, encoding="utf-8")
    (root / "corpus" / "night.srt").write_text(SUBTITLES, encoding="utf-8")
    (root / "studio.toml").write_text(CONFIG, encoding="utf-8")
    if build:
        from studio.dataset.service import build_dataset
        from studio.plugins import load_host
        from studio.workspace import Workspace

        build_dataset(Workspace(root), load_host().parsers)
    return root


def fixed_events(steps: int = 30, start: float = 1_700_000_000.0) -> list[Event]:
    """A finished CPU run: smooth loss, eval every 10 steps, checkpoints, fixed timestamps."""
    events: list[Event] = [
        ConfigEvent(
            t=start,
            pid=1,
            total_steps=steps,
            device="cpu",
            dtype="float32",
            config={"model": {"name": "tiny-qwen2", "source": "tiny"}, "lora_r": 8},
            lora_targets=["q_proj"],
        ),
        DataEvent(
            t=start + 0.5,
            train_samples=9,
            eval_samples=0,
            too_long=0,
            supervised_share=0.3,
            total_steps=steps,
        ),
    ]
    for step in range(1, steps + 1):
        loss = 2.0 + 3.5 * math.exp(-step / 9) + 0.08 * math.sin(step * 1.7)
        events.append(
            StepEvent(
                t=start + 1 + step * 2.0,
                step=step,
                total_steps=steps,
                epoch=round(step / 15, 3),
                loss=round(loss, 5),
                lr=0.002,
                tokens=256,
                tokens_per_s=1280.0,
                eta_s=float((steps - step) * 2),
            )
        )
        if step % 10 == 0:
            events.append(
                EvalEvent(
                    t=start + 1.5 + step * 2.0,
                    step=step,
                    eval_loss=round(2.3 + 3.3 * math.exp(-step / 10), 5),
                )
            )
            events.append(
                CheckpointEvent(
                    t=start + 1.6 + step * 2.0, step=step, path=f"checkpoints/step-{step:06d}"
                )
            )
    events.append(FinishedEvent(t=start + 2 + steps * 2.0, step=steps, adapter="adapter"))
    return events


def write_fixed_run(root: Path, name: str = "run-fixed", events: list[Event] | None = None) -> Path:
    """A finished run folder with fixed events and log (no weights: layout only), written by
    the run folder's own writer."""
    run = RunDir(root / "runs" / name)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config({"model": {"name": "tiny-qwen2", "source": "tiny"}})
    run.write_events(fixed_events() if events is None else events)
    steps = [e for e in fixed_events() if isinstance(e, StepEvent)]
    run.log_file.write_text(
        "config: tiny-qwen2 on cpu (float32), LoRA r=8 on q_proj\n"
        "data: 9 train / 0 eval samples, 0 over max_length (dropped, not cut)\n"
        + "".join(f"step {e.step:>5}/30  loss {e.loss:.4f}\n" for e in steps if e.step > 24)
        + "finished at step 30: adapter\n",
        encoding="utf-8",
    )
    run.adapter_dir.mkdir(exist_ok=True)
    (run.adapter_dir / ADAPTER_CONFIG).write_text("{}", encoding="utf-8")
    return run.path
