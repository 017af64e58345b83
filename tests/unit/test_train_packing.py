"""Packing: every sample once per epoch, steps independent of the number of processes,
isolated rows."""

from __future__ import annotations

import random

from studio.train.data import IGNORE, Encoded
from studio.train.packing import collate, plan_epoch, shard_step


def lengths(n: int = 300, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(20, 400) for _ in range(n)]


def test_an_epoch_holds_every_sample_once_within_capacity():
    sizes = lengths()
    steps = plan_epoch(sizes, 2048, seed=1, epoch=0)
    flat = sorted(i for step in steps for i in step)
    assert flat == list(range(len(sizes)))
    assert all(sum(sizes[i] for i in step) <= 2048 for step in steps)
    # nearly full steps: packing wastes little of the step budget
    assert sum(sizes) / (len(steps) * 2048) > 0.9


def test_the_plan_is_seeded_and_changes_with_the_epoch():
    sizes = lengths()
    assert plan_epoch(sizes, 2048, 1, 0) == plan_epoch(sizes, 2048, 1, 0)
    assert plan_epoch(sizes, 2048, 1, 0) != plan_epoch(sizes, 2048, 1, 1)
    assert plan_epoch(sizes, 2048, 1, 0) != plan_epoch(sizes, 2048, 2, 0)


def test_a_step_is_shared_between_processes_without_loss_or_overlap():
    sizes = lengths()
    for step in plan_epoch(sizes, 4096, 3, 0)[:10]:
        for world in (1, 2, 4):
            shares = shard_step(step, sizes, world, row_tokens=1024)
            got = sorted(i for share in shares for row in share for i in row)
            assert got == sorted(step)
            assert all(sum(sizes[i] for i in row) <= 1024 for share in shares for row in share)
            loads = [sum(sizes[i] for row in share for i in row) for share in shares]
            assert max(loads) - min(loads) <= max(sizes)  # balanced to within one sample


def test_a_packed_row_restarts_positions_and_never_predicts_across_samples():
    a = Encoded("a", [1, 2, 3], [IGNORE, 2, 3])
    b = Encoded("b", [4, 5], [4, 5])
    row = collate([a, b])
    assert row["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert row["cu_seqlens"].tolist() == [0, 3, 5]
    assert row["labels"].tolist() == [[IGNORE, 2, 3, IGNORE, 5]]  # b's first token is not a target
    assert row["max_seqlen"] == 3
    padded = collate([a, b], pad_to=8)
    assert padded["input_ids"].shape == (1, 8) and padded["cu_seqlens"].tolist() == [0, 3, 5, 8]
    assert padded["labels"][0, 5:].tolist() == [IGNORE] * 3
