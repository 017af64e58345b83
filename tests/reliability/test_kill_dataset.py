"""kill -9 of the studio during review decisions and during a dataset rebuild.

A driver process decides (or rebuilds) in a loop and prints a line after each call returns: that
line is the acknowledgement the user saw. It is killed with SIGKILL at random points. After
each kill the workspace must load, every acknowledged decision must be in the journal in order
and applied, and no half-written samples file may be read as whole.
"""

from __future__ import annotations

import json
import random
import time

from studio.dataset.service import build_dataset
from studio.dataset.store import DatasetStore
from studio.fsutil import read_jsonl
from studio.plugins import load_host
from studio.workspace import Workspace
from tests.reliability.conftest import Driver, wait_for

DECIDER = r"""
import json, random, sys
from studio.dataset.store import DatasetStore
store = DatasetStore(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
ids = [s.id for s in store.raw_samples()]
print("ready", flush=True)
n = 0
while True:
    sid, roll, n = rng.choice(ids), rng.random(), n + 1
    if roll < 0.4:
        entry = store.record("accept", sid)
    elif roll < 0.7:
        entry = store.record("reject", sid)
    elif roll < 0.85:
        entry = store.record("edit", sid, f"改过的回答 {n}")
    elif roll < 0.95:
        entry = store.record_many("accept", rng.sample(ids, 4))
    else:
        entry = store.record("undo")
    print(json.dumps(entry, ensure_ascii=False), flush=True)  # returned: on disk
"""

STUDIO = r"""
import asyncio, random, sys
from studio.plugins import load_host
from studio.tui.app import StudioApp
from studio.workspace import Workspace

async def main():
    ws = Workspace(sys.argv[1]).lock()
    app = StudioApp(ws, host=load_host())
    rng = random.Random(int(sys.argv[2]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        while getattr(app.screen, "store", None) is None:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        print("ready", flush=True)
        while True:
            await pilot.press(rng.choice("aaarrxu"))
            await pilot.pause()
            # the screen shows the decision: acknowledged
            print(len(app.screen.store.journal()), flush=True)
            if rng.random() < 0.7:
                await pilot.press("j")

asyncio.run(main())
"""

REBUILDER = r"""
import sys
from studio.dataset.service import build_dataset
from studio.plugins import load_host
from studio.workspace import Workspace
ws, parsers, n = Workspace(sys.argv[1]), load_host().parsers, 0
while True:
    ws.lock()
    build_dataset(ws, parsers)
    ws.unlock()
    n += 1
    print("built", n, flush=True)
"""


def replayed(folder, entries) -> dict:
    """The decisions a fresh store derives from ``entries`` alone."""
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8"
    )
    return DatasetStore(folder).decisions()


def test_kill_during_review_decisions_loses_no_acknowledged_decision(
    persona_workspace, host, tmp_path
):
    ws = Workspace(persona_workspace)
    build_dataset(ws, host.parsers)
    folder = ws.dataset_dir()
    acknowledged: list[dict] = []
    rng = random.Random(7)
    for round_ in range(4):
        driver = Driver(DECIDER, folder, round_)
        assert driver.line() == "ready"
        for _ in range(rng.randint(5, 60)):
            acknowledged.append(json.loads(driver.line()))
        driver.kill()  # mid-loop: maybe between two decisions, maybe inside one
        # what it printed before it died was acknowledged too, read or not (on a busy machine
        # several acknowledgements wait in the pipe)
        acknowledged += [json.loads(line) for line in driver.rest()]
        if (
            round_ == 1
        ):  # what a crash in the middle of a write (or a full disk) leaves: a torn last line
            with open(folder / "journal.jsonl", "ab") as handle:
                handle.write(b'{"t": 1.0, "action": "acc')

        journal = read_jsonl(folder / "journal.jsonl")
        assert journal[: len(acknowledged)] == acknowledged  # every acknowledged decision, in order
        assert (
            len(journal) - len(acknowledged) <= 1
        )  # at most the one in flight, never acknowledged
        acknowledged = journal  # the one in flight may have landed: it is part of history now
        store = DatasetStore(folder)
        assert store.decisions() == replayed(tmp_path / f"replay-{round_}", journal)
        assert len(store.samples()) == len(store.raw_samples()) > 0
    assert (
        (folder / "journal.jsonl").read_bytes().endswith(b"\n")
    )  # the torn line was cut, not glued on


def test_kill_of_the_tui_during_review_keeps_every_acknowledged_key(persona_workspace, host):
    ws = Workspace(persona_workspace)
    build_dataset(ws, host.parsers)
    journal = ws.dataset_dir() / "journal.jsonl"
    acknowledged = 0
    for round_ in range(2):
        studio = Driver(STUDIO, persona_workspace, round_)
        assert studio.line(timeout=120) == "ready"
        for _ in range(random.Random(round_).randint(8, 25)):
            acknowledged = int(studio.line())
        studio.kill()  # kill -9 of the whole studio, mid-review
        acknowledged = max([acknowledged, *map(int, studio.rest())])  # printed, not yet read
        entries = read_jsonl(journal)
        assert acknowledged <= len(entries) <= acknowledged + 1
        store = DatasetStore(ws.dataset_dir())
        assert store.decisions() == replayed(
            persona_workspace.parent / f"replay-tui-{round_}", entries
        )
        acknowledged = len(entries)
    Workspace(persona_workspace).lock().unlock()  # the killed studio's lock went with it


def test_kill_during_a_rebuild_never_leaves_a_half_samples_file(big_workspace):
    ws = Workspace(big_workspace)
    parsers = load_host().parsers
    reference = build_dataset(ws, parsers)
    store = DatasetStore(ws.dataset_dir())
    expected = [s.id for s in store.raw_samples()]
    accepted = expected[::7]
    store.record_many("accept", accepted)
    store.record("edit", expected[1], "改过的回答")
    samples_file = ws.dataset_dir() / "samples.jsonl"
    temp_files = lambda: list(ws.dataset_dir().glob(".samples.jsonl.*.tmp"))  # noqa: E731

    for attempt in range(3):
        driver = Driver(REBUILDER, big_workspace)
        assert driver.line() == "built 1"
        if attempt == 0:
            wait_for(
                temp_files, timeout=60, poll=0.0005
            )  # the next build is writing its samples now
        else:  # anywhere in a build: parsing, building or writing
            time.sleep(random.Random(attempt).uniform(0.0, reference.seconds))
        driver.kill()

        raw = samples_file.read_bytes()
        assert raw.endswith(b"\n")
        assert [
            json.loads(line)["id"] for line in raw.splitlines()
        ] == expected  # whole: the old file or the new
        fresh = DatasetStore(ws.dataset_dir())
        assert [s.id for s in fresh.raw_samples()] == expected
        counts = fresh.status_counts()
        assert counts["accepted"] == len(accepted) - (expected[1] in accepted)
        assert counts["edited"] == 1 and fresh.get(expected[1]).reply == "改过的回答"
        assert (
            json.loads((ws.dataset_dir() / "build.json").read_text(encoding="utf-8"))["character"]
            == "阿蘅"
        )

    # the workspace still builds, and the leftovers of killed writes are never taken for data
    result = build_dataset(ws, parsers)
    assert result.kept_decisions == len(set(accepted) | {expected[1]})
