"""Provides dataset exports in the formats the fine-tuning ecosystem reads.

- ``alpaca``: JSON lists that LLaMA-Factory reads as-is (instruction / input / output / system /
  history), with its ``dataset_info.json`` written beside them;
- ``sharegpt``: JSON lists of ``conversations`` (``from`` human / gpt, ``value``) plus ``system``,
  also declared in ``dataset_info.json``;
- ``messages``: OpenAI chat fine-tuning JSONL (``{"messages": [...]}`` per line);
- ``xtuner``: XTuner's JSON (``conversation``: ``system`` / ``input`` / ``output`` rounds);
- ``datasets``: a ``datasets.DatasetDict`` (``train`` / ``eval``) saved with ``save_to_disk``.

Every row carries its provenance: ``id``, ``origin`` (corpus / identity / augment:strategy),
``sources`` (``file:line`` of every source line), ``scene``, ``split`` and review ``status``.
Loaders that map named columns (LLaMA-Factory, XTuner) ignore the extra keys; ``bare=True``
leaves them out (``messages`` for an API that refuses unknown keys).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.errors import StudioError
from studio.fsutil import atomic_write_json, atomic_write_text

FORMATS = ("alpaca", "sharegpt", "messages", "xtuner", "datasets")
SPLITS = ("train", "eval")

ALPACA_COLUMNS = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "system": "system",
    "history": "history",
}
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system"}
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
}


@dataclass
class ExportResult:
    """What an export wrote: format → split → (path, rows)."""

    folder: Path
    files: dict[str, dict[str, tuple[Path, int]]] = field(default_factory=dict)
    dataset_info: Path | None = None


def provenance(sample: Sample) -> dict[str, Any]:
    """Flat provenance columns of one sample (the same types on every row, for Arrow)."""
    prov = sample.provenance or {}
    kind = prov.get("kind", "corpus")
    origin = f"augment:{prov.get('strategy', '')}" if kind == "augment" else kind
    sources = [
        f"{s.get('file', '')}:{s.get('line', '')}"
        for s in prov.get("sources", [])
        if isinstance(s, dict)
    ]
    return {
        "id": sample.id,
        "origin": origin,
        "sources": sources,
        "scene": sample.scene,
        "split": sample.split,
        "status": sample.status,
    }


def _pairs(sample: Sample) -> list[tuple[str, str]]:
    """The conversation as (user, assistant) rounds; an assistant turn without a user turn gets ''."""
    rounds: list[tuple[str, str]] = []
    user: str | None = None
    for turn in sample.turns:
        if turn.role == "user":
            user = turn.content if user is None else f"{user}\n{turn.content}"
        else:
            rounds.append((user or "", turn.content))
            user = None
    return rounds


def alpaca_row(sample: Sample, bare: bool = False) -> dict[str, Any]:
    rounds = _pairs(sample)
    prompt, response = rounds[-1]
    row: dict[str, Any] = {
        "instruction": prompt,
        "input": "",
        "output": response,
        "system": sample.system,
        "history": [[u, a] for u, a in rounds[:-1]],
    }
    return row if bare else {**row, **provenance(sample)}


def sharegpt_row(sample: Sample, bare: bool = False) -> dict[str, Any]:
    conversation = [
        {"from": "human" if t.role == "user" else "gpt", "value": t.content} for t in sample.turns
    ]
    row: dict[str, Any] = {"conversations": conversation, "system": sample.system}
    return row if bare else {**row, **provenance(sample)}


def messages_row(sample: Sample, bare: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"messages": sample.messages()}
    return row if bare else {**row, **provenance(sample)}


def xtuner_row(sample: Sample, bare: bool = False) -> dict[str, Any]:
    rounds = _pairs(sample)
    conversation = [{"system": sample.system, "input": rounds[0][0], "output": rounds[0][1]}]
    conversation += [{"input": u, "output": a} for u, a in rounds[1:]]
    row: dict[str, Any] = {"conversation": conversation}
    return row if bare else {**row, **provenance(sample)}


_ROWS = {
    "alpaca": alpaca_row,
    "sharegpt": sharegpt_row,
    "messages": messages_row,
    "xtuner": xtuner_row,
}


def _slug(name: str) -> str:
    slug = re.sub(r"[^\w.-]+", "_", name.strip(), flags=re.UNICODE).strip("_")
    return slug or "dataset"


def _check(samples: Sequence[Sample]) -> None:
    for sample in samples:
        if not sample.turns or sample.turns[-1].role != "assistant":
            raise StudioError(
                f"sample {sample.id}: expected a conversation ending with the character's reply"
            )


def export_samples(
    samples: Iterable[Sample],
    out: str | Path,
    formats: Sequence[str],
    *,
    name: str,
    bare: bool = False,
) -> ExportResult:
    """Write ``samples`` (split by their ``split``) to ``out`` in each of ``formats``.

    Args:
        samples: the samples to export, decisions applied.
        out: the output folder (created).
        formats: any of :data:`FORMATS`.
        name: dataset name; files are ``<name>_<format>_<split>.json[l]`` and LLaMA-Factory
            datasets ``<name>_<format>_<split>`` in ``dataset_info.json``.
        bare: leave the provenance columns out of every row.

    Raises:
        StudioError: an unknown format or a malformed sample.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise StudioError(
            f"unknown export format {', '.join(unknown)}; expected {', '.join(FORMATS)}"
        )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    samples = list(samples)
    _check(samples)
    by_split = {split: [s for s in samples if s.split == split] for split in SPLITS}
    slug = _slug(name)
    result = ExportResult(folder)
    info: dict[str, Any] = {}
    for fmt in formats:
        if fmt == "datasets":
            result.files[fmt] = _save_datasets(by_split, folder / f"{slug}_hf", bare)
            continue
        result.files[fmt] = {}
        for split, rows in by_split.items():
            records = [_ROWS[fmt](s, bare) for s in rows]
            if fmt == "messages":
                path = folder / f"{slug}_{fmt}_{split}.jsonl"
                atomic_write_text(
                    path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                )
            else:
                path = folder / f"{slug}_{fmt}_{split}.json"
                atomic_write_text(path, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
            _readable(path)
            result.files[fmt][split] = (path, len(records))
            if fmt == "alpaca":
                info[f"{slug}_alpaca_{split}"] = {
                    "file_name": path.name,
                    "columns": dict(ALPACA_COLUMNS),
                }
            elif fmt == "sharegpt":
                info[f"{slug}_sharegpt_{split}"] = {
                    "file_name": path.name,
                    "formatting": "sharegpt",
                    "columns": dict(SHAREGPT_COLUMNS),
                    "tags": dict(SHAREGPT_TAGS),
                }
    if info:
        result.dataset_info = _merge_dataset_info(folder / "dataset_info.json", info)
    return result


def _merge_dataset_info(path: Path, entries: dict[str, Any]) -> Path:
    """Add ``entries`` to LLaMA-Factory's ``dataset_info.json``, keeping the datasets already there."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StudioError(
                f"{path}: not valid JSON ({exc}); expected LLaMA-Factory's dataset_info.json"
            ) from None
        if not isinstance(current, dict):
            raise StudioError(f"{path}: expected a JSON object of datasets")
    current.update(entries)
    atomic_write_json(path, current)
    _readable(path)
    return path


def _readable(path: Path) -> None:
    """Exported files are for other tools: give them the umask's usual mode, not a temp file's 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _save_datasets(
    by_split: dict[str, list[Sample]], path: Path, bare: bool
) -> dict[str, tuple[Path, int]]:
    """A DatasetDict with ``messages`` plus prompt/response columns, saved with ``save_to_disk``."""
    import datasets

    features = datasets.Features(
        {
            "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
            "prompt": datasets.Value("string"),
            "response": datasets.Value("string"),
            **(
                {}
                if bare
                else {
                    "id": datasets.Value("string"),
                    "origin": datasets.Value("string"),
                    "sources": [datasets.Value("string")],
                    "scene": datasets.Value("string"),
                    "split": datasets.Value("string"),
                    "status": datasets.Value("string"),
                }
            ),
        }
    )
    parts = {}
    for split, rows in by_split.items():
        records = [
            {
                "messages": s.messages(),
                "prompt": s.prompt,
                "response": s.reply,
                **({} if bare else provenance(s)),
            }
            for s in rows
        ]
        parts[split] = datasets.Dataset.from_list(records, features=features)
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        datasets.DatasetDict(parts).save_to_disk(str(tmp))
    finally:
        if bars:
            datasets.enable_progress_bars()
    if path.exists():  # replace the previous export only once the new one is complete
        import shutil

        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old)
    else:
        tmp.rename(path)
    return {split: (path, len(rows)) for split, rows in by_split.items()}
