"""Exports: read back the way LLaMA-Factory, OpenAI-style trainers, XTuner and `datasets` read them."""

from __future__ import annotations

import json

import pytest

from studio.api import Sample, Turn
from studio.dataset.export import export_samples
from studio.errors import StudioError

datasets = pytest.importorskip("datasets")

PERSONA = "You are Juliet Capulet of Verona."


def conversation(n: int, rounds: int, split: str = "train", kind: str = "corpus") -> Sample:
    turns = []
    for r in range(rounds):
        turns += [
            Turn("user", f"ROMEO: line {n}.{r}\nNURSE: aside {n}.{r}"),
            Turn("assistant", f"Juliet {n}.{r}"),
        ]
    provenance = {
        "kind": kind,
        "sources": [
            {"file": "corpus/romeo.txt", "line": 10 * n + i, "speaker": "JULIET"}
            for i in range(2 * rounds)
        ],
    }
    if kind == "augment":
        provenance = {
            "kind": "augment",
            "strategy": "few-shot",
            "options": {"k": 3},
            "examples": ["a", "b"],
        }
    if kind == "identity":
        provenance = {"kind": "identity", "question": "who"}
    return Sample(
        id=f"id{n}",
        character="JULIET",
        system=PERSONA,
        turns=turns,
        scene=f"corpus/romeo.txt#{n}",
        split=split,
        provenance=provenance,
        status="accepted" if kind == "augment" else "pending",
    )


SAMPLES = [
    conversation(1, 1),
    conversation(2, 3),
    conversation(3, 1, "eval"),
    conversation(4, 2, "eval"),
    conversation(5, 1, kind="identity"),
    conversation(6, 2, kind="augment"),
]


def llamafactory_messages(row: dict, entry: dict) -> list[dict[str, str]]:
    """What LLaMA-Factory's alpaca / sharegpt converters make of one row, given its dataset_info entry."""
    columns = entry["columns"]
    if entry.get("formatting", "alpaca") == "alpaca":
        out = [{"role": "system", "content": row[columns["system"]]}]
        for old_prompt, old_response in row[columns["history"]]:
            out += [
                {"role": "user", "content": old_prompt},
                {"role": "assistant", "content": old_response},
            ]
        query = [row[columns["prompt"]]] + (
            [row[columns["query"]]] if row[columns["query"]] else []
        )
        out += [
            {"role": "user", "content": "\n".join(query)},
            {"role": "assistant", "content": row[columns["response"]]},
        ]
        return out
    tags = entry["tags"]
    roles = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant"}
    messages = row[columns["messages"]]
    for index, message in enumerate(
        messages
    ):  # LLaMA-Factory drops rows whose roles do not alternate
        assert message[tags["role_tag"]] == (
            tags["user_tag"] if index % 2 == 0 else tags["assistant_tag"]
        )
    return [{"role": "system", "content": row[columns["system"]]}] + [
        {"role": roles[m[tags["role_tag"]]], "content": m[tags["content_tag"]]} for m in messages
    ]


def test_alpaca_and_sharegpt_read_back_through_dataset_info(tmp_path):
    result = export_samples(SAMPLES, tmp_path, ["alpaca", "sharegpt"], name="juliet")
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {
        "juliet_alpaca_train",
        "juliet_alpaca_eval",
        "juliet_sharegpt_train",
        "juliet_sharegpt_eval",
    }
    assert info["juliet_sharegpt_train"]["formatting"] == "sharegpt"
    assert result.dataset_info == tmp_path / "dataset_info.json"
    for name, entry in info.items():
        split = name.rsplit("_", 1)[1]
        rows = datasets.load_dataset(
            "json",
            data_files=str(tmp_path / entry["file_name"]),
            split="train",
            cache_dir=str(tmp_path / ".hf-cache"),
        )
        expected = [s for s in SAMPLES if s.split == split]
        assert len(rows) == len(expected)
        for row, sample in zip(rows, expected, strict=True):
            assert llamafactory_messages(row, entry) == sample.messages()
            assert row["id"] == sample.id
        assert rows[0]["sources"][0].startswith("corpus/romeo.txt:")


def test_provenance_columns_are_flat_and_typed_the_same_on_every_row(tmp_path):
    export_samples(SAMPLES, tmp_path, ["alpaca"], name="juliet")
    rows = json.loads((tmp_path / "juliet_alpaca_train.json").read_text(encoding="utf-8"))
    assert [r["origin"] for r in rows] == ["corpus", "corpus", "identity", "augment:few-shot"]
    assert rows[0]["sources"] == ["corpus/romeo.txt:10", "corpus/romeo.txt:11"]
    assert rows[1]["history"] == [
        ["ROMEO: line 2.0\nNURSE: aside 2.0", "Juliet 2.0"],
        ["ROMEO: line 2.1\nNURSE: aside 2.1", "Juliet 2.1"],
    ]
    assert rows[2]["sources"] == [] and rows[3]["status"] == "accepted"
    bare = export_samples(
        SAMPLES, tmp_path / "bare", ["alpaca", "messages"], name="juliet", bare=True
    )
    row = json.loads(bare.files["messages"]["train"][0].read_text(encoding="utf-8").splitlines()[0])
    assert set(row) == {"messages"}


def test_messages_jsonl_and_xtuner(tmp_path):
    result = export_samples(SAMPLES, tmp_path, ["messages", "xtuner"], name="juliet")
    path, count = result.files["messages"]["eval"]
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert count == 2 and [line["messages"] for line in lines] == [
        s.messages() for s in SAMPLES if s.split == "eval"
    ]
    xtuner = json.loads(result.files["xtuner"]["train"][0].read_text(encoding="utf-8"))
    second = xtuner[1]["conversation"]
    assert second[0] == {
        "system": PERSONA,
        "input": "ROMEO: line 2.0\nNURSE: aside 2.0",
        "output": "Juliet 2.0",
    }
    assert [set(r) for r in second[1:]] == [{"input", "output"}] * 2
    assert not (tmp_path / "dataset_info.json").exists()


def test_datasets_dict_saved_to_disk(tmp_path):
    export_samples(SAMPLES, tmp_path, ["datasets"], name="juliet")
    loaded = datasets.load_from_disk(str(tmp_path / "juliet_hf"))
    assert set(loaded) == {"train", "eval"} and (len(loaded["train"]), len(loaded["eval"])) == (
        4,
        2,
    )
    row = loaded["eval"][1]
    assert (
        row["messages"] == SAMPLES[3].messages()
        and row["response"] == "Juliet 4.1"
        and row["id"] == "id4"
    )
    export_samples(
        SAMPLES[:3], tmp_path, ["datasets"], name="juliet"
    )  # a second export replaces the first
    assert len(datasets.load_from_disk(str(tmp_path / "juliet_hf"))["train"]) == 2


def test_dataset_info_keeps_other_datasets_and_refuses_garbage(tmp_path):
    (tmp_path / "dataset_info.json").write_text(
        json.dumps({"alpaca_en": {"file_name": "alpaca_en.json"}})
    )
    export_samples(SAMPLES, tmp_path, ["sharegpt"], name="juliet")
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert "alpaca_en" in info and "juliet_sharegpt_eval" in info
    (tmp_path / "dataset_info.json").write_text("{not json")
    with pytest.raises(StudioError, match="dataset_info.json: not valid JSON"):
        export_samples(SAMPLES, tmp_path, ["alpaca"], name="juliet")
    with pytest.raises(StudioError, match="unknown export format csv"):
        export_samples(SAMPLES, tmp_path, ["csv"], name="juliet")
