"""The same query finds the same samples in ``review --list --search`` and the studio's ``/``."""

from __future__ import annotations

import re

import pytest

from studio.cli import main
from studio.dataset.query import Query, Searcher, matches
from studio.dataset.store import DatasetStore
from studio.tui.widgets.sample_list import SampleList


def _cli_ids(ws, capsys, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["review", str(ws), "--list", "--limit", "100000", *args]) == 0
    return re.findall(r"^\[([0-9a-f]+)\]", capsys.readouterr().out, flags=re.M)


# "Net Loft" is in a scene name (SCENE II. The net loft.), not in every sample's words;
# "WREN" is written Wren
@pytest.mark.parametrize("text", ["Net Loft", "tide", "WREN"])
async def test_search_finds_the_same_samples_in_review_and_the_studio(
    studio_ws, make_app, capsys, text
):
    expected = _cli_ids(studio_ws, capsys, "--search", text)
    assert expected
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("3")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        await pilot.press("slash", *text, "enter")
        await pilot.pause()
        shown = [screen.samples[i].id for i in screen.query_one(SampleList).view]
    assert shown == expected


def test_store_and_searcher_agree_on_every_filter(studio_ws):
    store = DatasetStore(studio_ws / "datasets" / "default")
    ids = [s.id for s in store.samples()]
    store.record("edit", ids[0], "an edited reply about LANTERNS")
    store.record("reject", ids[1])
    samples = store.samples()
    searcher = Searcher(samples)
    for query in (
        Query(text="lanterns"),
        Query(status="rejected"),
        Query(status="edited", text="LANTERN"),
        Query(source="corpus", min_len=20, max_len=60),
        Query(split="train", text="net loft"),
    ):
        assert [s.id for s in store.find(query)] == [samples[i].id for i in searcher.select(query)]
        assert [s.id for s in store.find(query)] == [s.id for s in samples if matches(s, query)]
