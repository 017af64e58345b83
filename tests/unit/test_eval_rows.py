"""The four-row eval: loss per character, batched losses, train-split-only memory, side by side."""

from __future__ import annotations

import json

import pytest
import torch

from studio.api import Sample, Turn
from studio.errors import StudioError
from studio.eval.evaluate import PROBES_EN, PROBES_ZH, ROWS, evaluate_run, parse_rows
from studio.eval.items import side_by_side
from studio.eval.report import format_report
from studio.workspace import Workspace


def test_rows_parse_in_report_order_and_a_bad_name_is_refused():
    assert parse_rows("adapter, base") == ("base", "adapter")
    assert parse_rows(",".join(reversed(ROWS))) == ROWS
    with pytest.raises(StudioError, match="--rows: expected"):
        parse_rows("base,memory")
    with pytest.raises(StudioError):
        parse_rows(" , ")


def test_batched_losses_equal_one_at_a_time(persona_run, host):
    from studio.chat.persona import load_persona
    from studio.eval.batched import batch_losses
    from studio.fsutil import read_jsonl

    persona = load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )
    samples = [Sample.from_json(d) for d in read_jsonl(persona_run / "samples.jsonl")][:6]
    conversations = [s.messages(persona.system) for s in samples]
    loaded = persona.loaded
    for use_adapter in (True, False):
        together = batch_losses(
            loaded.model,
            loaded.tokenizer,
            conversations,
            loaded.end_of_turn_ids,
            use_adapter=use_adapter,
        )
        alone = batch_losses(
            loaded.model,
            loaded.tokenizer,
            conversations,
            loaded.end_of_turn_ids,
            use_adapter=use_adapter,
            batch_tokens=1,
        )  # one conversation per forward
        assert [n for _, n in together] == [n for _, n in alone] and all(n > 0 for _, n in alone)
        for (a, _), (b, _) in zip(together, alone, strict=True):
            assert a == pytest.approx(b, rel=1e-4)
    with_adapter = batch_losses(
        loaded.model, loaded.tokenizer, conversations, loaded.end_of_turn_ids
    )
    without = batch_losses(
        loaded.model, loaded.tokenizer, conversations, loaded.end_of_turn_ids, use_adapter=False
    )
    assert [a for a, _ in with_adapter] != [
        b for b, _ in without
    ]  # the switch really disables the adapter


def test_side_by_side_spreads_five_prompts_over_the_items():
    held = [
        Sample(
            id=f"e{i}",
            character="甄嬛",
            system="",
            split="eval",
            turns=[Turn("user", f"问{i}"), Turn("assistant", f"答{i}")],
        )
        for i in range(12)
    ]
    replies = {"base": [f"b{i}" for i in range(12)], "adapter": [f"a{i}" for i in range(12)]}
    shown = side_by_side(held, replies)
    assert [row["id"] for row in shown] == ["e0", "e3", "e6", "e8", "e11"]
    assert shown[1] == {
        "id": "e3",
        "prompt": "问3",
        "real": "答3",
        "replies": {"base": "b3", "adapter": "a3"},
    }
    assert len(side_by_side(held[:2], {"base": ["x", "y"]})) == 2


def test_four_rows_on_the_same_items_with_memory_from_the_train_split_only(persona_run, host):
    ws = Workspace(persona_run.parent.parent)
    report = evaluate_run(
        ws, host.adapters, host.parsers, max_new_tokens=4, memory_k=2, device=torch.device("cpu")
    )
    run = persona_run
    samples = [
        Sample.from_json(json.loads(line))
        for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    held = [s for s in samples if s.split == "eval"]
    train_ids = {s.id for s in samples if s.split == "train"}
    by_id = {s.id: s for s in samples}
    assert report["rows"] == list(ROWS) and set(report["models"]) == set(ROWS)
    real_chars = sum(len(s.reply) for s in held)
    for row in ROWS:
        metrics = report["models"][row]
        # loss per character: the summed token losses over the characters of her real lines
        assert metrics["loss_chars"] == real_chars
        assert metrics["loss_per_char"] == pytest.approx(
            metrics["loss"] * metrics["loss_tokens"] / real_chars, rel=1e-3
        )
        assert metrics["memory"] == (2 if row.endswith("+memory") else 0)
        assert 0 <= metrics["chrf"] <= 100 and metrics["identity_total"] in (
            len(PROBES_EN),
            len(PROBES_ZH),
        )
    for row in ROWS[1:]:
        assert report["models"][row]["verdict"]["answer"] in ("yes", "partly", "no")
    assert report["verdict"]["answer"] in ("yes", "partly", "no") and "memory_verdict" in report

    items = [
        json.loads(line)
        for line in (run / "eval" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [i["id"] for i in items] == [s.id for s in held]
    recalled_any = False
    for item in items:
        assert set(item["memory_ids"]) <= train_ids and item["id"] not in item["memory_ids"]
        recalled_any |= bool(item["memory_ids"])
        for sample_id in item["memory_ids"]:  # an eval item's own reply never reaches its context
            assert (
                by_id[sample_id].split == "train"
                and by_id[sample_id].provenance.get("kind", "corpus") == "corpus"
            )
        assert all(row in item for row in ROWS)
    assert recalled_any

    shown = report["side_by_side"]
    assert len(shown) == min(5, len(held)) and all(set(r["replies"]) == set(ROWS) for r in shown)
    assert {r["real"] for r in shown} <= {s.reply for s in held}
    text = (run / "eval" / "report.md").read_text(encoding="utf-8")
    for head in (
        "base+mem",
        "adapt+mem",
        "loss/char of real lines",
        "side by side",
        "would memory do as well?",
    ):
        assert head in text


def test_the_report_fits_80_columns(persona_run, host):
    from rich.cells import cell_len

    ws = Workspace(persona_run.parent.parent)
    report = evaluate_run(
        ws,
        host.adapters,
        host.parsers,
        max_new_tokens=24,
        rows=("base", "adapter"),
        limit=3,
        device=torch.device("cpu"),
    )
    assert report["rows"] == ["base", "adapter"] and "memory_verdict" not in report
    text = format_report(report, examples=5)
    assert max(cell_len(line) for line in text.splitlines()) <= 76
    assert "did it work?" in text and "adapt+mem" not in text
